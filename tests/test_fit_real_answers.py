"""The user's words and the model's detail survive the fit: pinned on the corpus of real answers
(enhancer/data/real_answers.jsonl), its long video answers sent through the SDXL profiles too."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from enhancer.answer import finish
from enhancer.postprocess import clean
from enhancer.postprocess.text import sentences, split_tags
from enhancer.profiles import PROFILES, STOCK_PHRASES
from enhancer.replay_checks import dangling_pieces
from enhancer.subject import carried_words, carries_subject, missing_words
from enhancer.tokens import EstimateTokenCounter, clip_counter

CORPUS = Path(__file__).resolve().parent.parent / "enhancer" / "data" / "real_answers.jsonl"
LINES = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
CLIP = clip_counter()
COUNTERS = {"sdxl": CLIP, "wan": EstimateTokenCounter()}
ALL_PROFILES = ["sdxl_fast", "sdxl_high", "wan_fast", "wan_high"]


def finished(line: dict, profile_name: str):
    profile = PROFILES[profile_name]
    return finish(line["raw"], line["prompt"], profile, COUNTERS[profile.family])


@pytest.mark.parametrize("profile_name", ALL_PROFILES)
def test_a_prompt_word_the_models_text_carried_is_never_lost_to_the_fit(profile_name):
    profile = PROFILES[profile_name]
    lost = []
    for line in LINES:
        if COUNTERS[profile.family].count(line["prompt"]) > profile.budget - 10:
            continue  # the prompt alone fills the budget: compressed, never expanded
        answer = finished(line, profile_name)
        had = carried_words(answer.cleaned or "", line["prompt"])
        gone = [w for w in missing_words(answer.text, line["prompt"]) if w in had]
        if gone:
            lost.append((line["prompt"], gone))
    assert lost == []


@pytest.mark.parametrize("profile_name", ["sdxl_fast", "sdxl_high"])
def test_sdxl_turns_long_video_prose_into_the_models_own_phrases(profile_name):
    """The corpus's video answers are prose of 100-250 tokens: far over one CLIP window."""
    video = [line for line in LINES if line["job_type"].startswith("video")]
    kept_model_text = 0
    for line in video:
        answer = finished(line, profile_name)
        kept_model_text += answer.from_model
        if not answer.from_model:
            continue
        assert CLIP.count(answer.text) <= PROFILES[profile_name].budget
        assert dangling_pieces(answer.text) == [], answer.text
        said = re.sub("[.!?]+([\"'])", r"\1", " ".join((answer.cleaned or "").split()).lower())
        prompt = line["prompt"].lower()
        for piece in (s for tag in split_tags(answer.text) for s in sentences(tag)):
            piece = re.sub("[.!?]+([\"'])", r"\1", piece.lower()).rstrip(".")
            # Every piece is the model's, the user's, a quality tag or a stock phrase: no stock
            # tag stands in for what the model wrote.
            assert (piece in said or piece in prompt or any(piece in p.lower() for p in STOCK_PHRASES)
                    or piece in ("masterpiece", "best quality", "highly detailed")), (piece, answer.text)
    assert kept_model_text >= 0.95 * len(video)


def test_the_sculptor_keeps_the_models_phrases_in_the_fast_budget():
    # The example of long prose that whole-unit compression threw away.
    raw = ("In the dimly lit studio, where shafts of sunlight filtered through the high windows, "
           "illuminating the swirling dust in the air, a sculptor clad in a black apron, worn and dusted with "
           "the fine white powder of stone, carefully chisels the luminous silver marble, his weathered hands "
           "guiding each stroke with the patience of decades, as the half-formed figure of a dancer emerges "
           "from the block.")
    prompt = "A sculptor in a black apron chisels silver marble"
    answer = finish(raw, prompt, PROFILES["sdxl_fast"], CLIP)
    pieces = split_tags(answer.text)
    assert answer.from_model and CLIP.count(answer.text) <= 75
    assert pieces[3] == "a sculptor clad in a black apron"  # the subject first, after the quality tags
    assert "worn and dusted with the fine white powder of stone" == pieces[4]  # its attribute beside it
    assert "In the dimly lit studio" in pieces and "carefully chisels the luminous silver marble" in pieces
    assert carries_subject(answer.text, prompt)


def _pairs(text: str) -> set[tuple[str, str]]:
    words = re.findall(r"[\w'\u2019-]+", text.lower())
    return set(zip(words, words[1:]))


_STOCK_PAIRS = set().union(*(_pairs(p) for p in STOCK_PHRASES))


@pytest.mark.parametrize("profile_name", ALL_PROFILES)
def test_an_answer_credited_to_the_model_carries_two_words_in_a_row_of_its_own(profile_name):
    for line in LINES:
        answer = finished(line, profile_name)
        if answer.from_model:
            own = _pairs(clean(line["raw"], line["prompt"])) - _pairs(line["prompt"]) - _STOCK_PAIRS
            assert _pairs(answer.text) & own, answer.text


@pytest.mark.parametrize(("prompt", "answer", "missing"), [
    ("a bird soaring over a lake", "A golden eagle glides above the still lake.", []),
    ("a shiba inu wearing a beret", "A shiba inu sits on a park bench in the autumn sun.", ["beret"]),
    ("Please draw a castle made of marshmallows", "A castle built of cotton candy blocks on a pink hill.",
     ["marshmallows"]),
    ("a paper lantern floating on a dark river", "A glowing light suspended by a dark river.",
     ["paper", "lantern", "floating"]),
    ("A beautiful coastal beach in spring", "A coastal beach in springtime, waves on golden sand.", []),
    ("A panda drinking coffee in a cafe in Paris", "A panda sips coffee in a cozy Parisian café.", []),
    ("In a still frame, a stop sign", "A red stop sign stands on a quiet street corner.", []),
])
def test_every_describing_word_of_the_prompt_is_carried_in_some_form(prompt, answer, missing):
    assert missing_words(answer, prompt) == missing
    assert carries_subject(answer, prompt) == (not missing)


def test_wan_brings_back_only_the_users_part_that_holds_the_lost_word_when_the_prompt_would_not_fit():
    # GPT-4o's answer has the waves "caress" the sand: "lapping" is lost, so the user's words
    # open it. Where the whole prompt would push a sentence of the model's out, only the user's
    # part with "lapping" comes back.
    line = next(line for line in LINES if line["model"] == "GPT-4o"
                and line["prompt"].startswith("A beautiful coastal beach in spring, waves lapping on sand, in super"))
    counter = COUNTERS["wan"]
    roomy = finish(line["raw"], line["prompt"], PROFILES["wan_fast"], counter)
    opening = line["prompt"] + ". "  # the prompt as a sentence
    assert roomy.text.startswith(opening)
    models_part = roomy.text[len(opening):]
    tight = dataclasses.replace(PROFILES["wan_fast"], budget=counter.count(roomy.text) - 2)
    answer = finish(line["raw"], line["prompt"], tight, counter)
    assert answer.text == "Waves lapping on sand. " + models_part
