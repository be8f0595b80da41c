"""Real answers of capable models (enhancer/data/real_answers.jsonl) through the post-generation
path: each failure class the worker used to inflict on good answers, pinned on a real answer."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from enhancer import eval as quality_eval
from enhancer.postprocess import clean
from enhancer.postprocess.text import sentences
from enhancer.profiles import MOTION, PROFILES, STOCK_PHRASES, VIDEO_QUALITY
from enhancer.quality import assess
from enhancer.replay import load_answers, replay_one
from enhancer.subject import CJK_RUN, carries_subject, invents_animal, missing_words
from enhancer.tokens import EstimateTokenCounter, clip_counter

CORPUS = Path(__file__).resolve().parent.parent / "enhancer" / "data" / "real_answers.jsonl"
LINES = load_answers(CORPUS)
COUNTERS = {"sdxl": clip_counter(), "wan": EstimateTokenCounter()}


def answer(model: str, prompt: str) -> dict:
    """The corpus line of a model's answer to a prompt (the model named by its prefix)."""
    matches = [line for line in LINES if line["model"].startswith(model) and line["prompt"] == prompt]
    assert len(matches) == 1, (model, prompt)
    return matches[0]


def run(model: str, prompt: str, job_type: str):
    return replay_one(answer(model, prompt), job_type, COUNTERS)


def test_the_corpus_is_real_answers_of_several_models_each_with_its_source():
    assert len(LINES) >= 100
    models = {line["model"].split(" (")[0] for line in LINES}
    assert len(models) >= 4
    assert {line["job_type"] for line in LINES} == {"video_high", "sdxl_image_fast"}
    for line in LINES:
        source = line["source"]
        assert source["repo"].count("/") == 1 and source["path"]
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])


@pytest.mark.parametrize("prompt", ["A blue colored dog.", "A white car and a red sheep.",
                                    "One cat and one dog sitting on the grass."])
@pytest.mark.parametrize("job_type", ["sdxl_image_fast", "sdxl_image_high"])
def test_sdxl_keeps_each_sentence_of_a_prose_answer_whole_or_drops_it(prompt, job_type):
    row = run("GPT-4 (DALL-E 3", prompt, job_type)
    assert row.within_budget and row.enhancement_source == "worker_fallback"
    assert row.fragments == []
    kept = [s for s in sentences(clean(row.raw, prompt)) if s[:-1].lower() in row.answer.lower()]
    assert kept, row.answer  # the model's first sentence at least is there, whole


@pytest.mark.parametrize("prompt", ["A tranquil tableau of a vintage rocking chair was placed on the porch",
                                    "a cat on the right of a dog, front view"])
def test_the_prompt_is_not_put_in_front_of_an_answer_that_already_says_it(prompt):
    line = next(line for line in LINES if line["prompt"] == prompt)
    row = replay_one(line, "video_fast", COUNTERS)
    assert not row.restated
    assert row.answer.startswith(sentences(clean(row.raw, prompt))[0])


def test_the_prompt_goes_in_front_when_what_is_left_lost_one_of_its_things():
    # The glove is named only in a sentence that brings in a player, which goes.
    row = run("Qwen2.5-3B", "a baseball bat and a baseball glove", "video_fast")
    assert "player" in row.raw and "player" not in row.answer
    assert row.answer.startswith("A baseball bat and a baseball glove. CG game concept digital art")


@pytest.mark.parametrize(("model", "prompt", "kind"), [
    ("Qwen2.5-3B", "A person is strumming guitar", "musician"),
    ("GPT-4o", "A person is roller skating", "individual"),
])
def test_a_kind_of_the_users_thing_carries_the_subject(model, prompt, kind):
    row = run(model, prompt, "video_fast")
    assert kind in row.answer.split(".")[0]
    assert not row.answer.startswith(prompt)


def test_kinds_carry_the_subject_and_different_things_do_not():
    assert carries_subject("A golden eagle glides above the still lake.", "a bird soaring over a lake")
    assert carries_subject("A raven perches on a fence.", "a black bird on a fence") is False  # "black" lost
    assert carries_subject("A black raven perches on a fence.", "a black bird on a fence")
    assert carries_subject("The corgi naps in the sun.", "a dog in the sun")
    assert not carries_subject("A tabby cat naps in the sun.", "a dog in the sun")
    assert not invents_animal("A golden eagle glides above the lake.", "a bird over a lake")
    assert invents_animal("A cat naps on the porch.", "a dog on the porch")


@pytest.mark.parametrize("style", ["pixel art", "animated style", "in cyberpunk style"])
def test_no_realistic_footage_stock_for_a_drawn_or_animated_style(style):
    prompt = f"a shark is swimming in the ocean, {style}"
    for model in ("Qwen2.5-3B", "GPT-4o", "HunyuanVideo"):
        matches = [line for line in LINES if line["model"].startswith(model) and line["prompt"] == prompt]
        for line in matches:
            row = replay_one(line, "video_high", COUNTERS)
            assert row.contradicting_stock == []
            if style != "in cyberpunk style":
                assert VIDEO_QUALITY.default not in row.answer


def test_no_motion_stock_for_a_still_frame():
    for line in LINES:
        if "still frame" in line["prompt"].lower():
            for job_type in ("video_fast", "video_high"):
                assert MOTION.default not in replay_one(line, job_type, COUNTERS).answer, line["prompt"]


@pytest.mark.parametrize("prompt", ["A tranquil tableau of a dining table", "a train crossing over a tall bridge"])
def test_a_stray_chinese_word_in_an_english_answer_goes_with_its_sentence(prompt):
    line = answer("Qwen2.5-3B", prompt)
    assert CJK_RUN.search(line["raw"])
    for job_type in ("video_fast", "video_high"):
        row = replay_one(line, job_type, COUNTERS)
        assert not CJK_RUN.search(row.answer) and not row.stray_script
        assert row.enhancement_source == "worker_fallback"


@pytest.mark.parametrize(("model", "prompt", "sentence"), [
    ("GPT-4o", "Yoda playing guitar on the stage", "His green, wrinkled fingers expertly strum the strings"),
    ("GPT-4o", "A couple in formal evening wear going home get caught in a heavy downpour with umbrellas, "
     "black and white", "The man, in a sharp black tuxedo, holds a large umbrella"),
])
@pytest.mark.parametrize("job_type", ["video_fast", "video_high"])
def test_the_person_a_prompt_names_is_not_an_invented_one(model, prompt, sentence, job_type):
    row = run(model, prompt, job_type)
    assert sentence in row.answer
    # No restatement in front of an answer that carries every word of the prompt; this one's
    # couple walks through the rain, never "going home", so the user's words open it.
    assert row.answer.startswith(prompt) == bool(missing_words(clean(row.raw, prompt), prompt))


@pytest.mark.parametrize("job_type", ["sdxl_image_fast", "sdxl_image_high"])
def test_a_prose_sentence_is_not_split_at_its_commas_and_reordered(job_type):
    prompt = "A storefront with 'Google Research Pizza Cafe' written on it."
    row = run("GPT-4 (DALL-E 3", prompt, job_type)
    assert row.fragments == []
    assert "a charming, rustic storefront adorned with ivy" in row.answer
    assert "in a bold, modern font." in row.answer


def test_a_clean_in_budget_answer_passes_through_whole():
    eligible = whole = unchanged = 0
    for line in LINES:
        if line["model"].startswith("GPT-4o"):
            row = replay_one(line, "video_fast", COUNTERS)
            if row.kept_whole is not None:
                eligible += 1
                whole += row.kept_whole
                said = " ".join(sentences(clean(line["raw"], line["prompt"])))
                # The user's words open an answer whose text lost one of them, and nothing else.
                repaired = missing_words(said, line["prompt"]) and row.answer.endswith(said)
                unchanged += row.answer == said or bool(repaired)
    # Whole: every sentence kept, unless one opens on an animal the prompt did not ask for.
    # Unchanged: nothing added either, unless a word of the prompt goes unnamed (a toaster "on
    # the bottom", waves "lapping") or the answer is thin.
    assert eligible >= 30 and whole >= 0.9 * eligible and unchanged >= 0.8 * eligible


def test_quality_score_does_not_rise_when_a_stock_sentence_is_appended():
    profile, counter = PROFILES["wan_fast"], COUNTERS["wan"]
    for line in LINES[:40]:
        text = replay_one(line, "video_fast", COUNTERS).answer
        before = assess(text, line["prompt"], profile, counter).score
        for phrase in STOCK_PHRASES:
            if phrase not in text and phrase[0].isupper():
                after = assess(f"{text} {phrase}", line["prompt"], profile, counter).score
                assert after <= before or counter.count(text) < profile.target_min, (phrase, text)


def test_a_capable_models_answer_that_passes_through_scores_high():
    row = run("GPT-4o", "A person is roller skating", "video_fast")
    assert row.added_stock == [] and row.quality_score >= 0.7


def test_replay_writes_each_line_through_both_tiers_in_input_order(tmp_path, capsys):
    sample = tmp_path / "answers.jsonl"
    picked = [LINES[0], next(line for line in LINES if line["job_type"] == "sdxl_image_fast")]
    sample.write_text("\n".join(json.dumps(line, ensure_ascii=False) for line in picked), encoding="utf-8")
    out = tmp_path / "out.json"
    assert quality_eval.main(["--replay", str(sample), "--both-tiers", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| a model sentence cut into fragments (WAN) |" in printed
    rows = json.loads(out.read_text(encoding="utf-8"))["rows"]
    assert [(r["prompt"], r["job_type"]) for r in rows] == [
        (picked[0]["prompt"], "video_fast"), (picked[0]["prompt"], "video_high"),
        (picked[1]["prompt"], "sdxl_image_fast"), (picked[1]["prompt"], "sdxl_image_high"),
    ]
    for row in rows:
        assert {"prompt", "raw", "job_type", "answer", "enhancement_source"} <= row.keys()


def test_replay_refuses_a_line_without_the_fields_it_needs(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "a cat", "job_type": "video_fast"}), encoding="utf-8")
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load_answers(bad)
