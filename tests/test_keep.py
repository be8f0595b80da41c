"""Kept terms (postprocess/keep.py) through the real post-processing, and the strengths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enhancer.answer import finish
from enhancer.postprocess import TermsDoNotFit, optimize
from enhancer.postprocess.fit import rank
from enhancer.postprocess.keep import KeptTerm, kept_terms, picture_words, restore
from enhancer.profiles import PROFILES, fills_most_of_budget, resolve_profile
from enhancer.service import build_messages
from enhancer.subject import says_in_order
from enhancer.tokens import EstimateTokenCounter, clip_counter

CLIP = clip_counter()
VIDEO = EstimateTokenCounter()
SDXL_FAST = resolve_profile("sdxl_image_fast")
DATA = Path(__file__).resolve().parent.parent / "enhancer" / "data"
WAN_FAST = resolve_profile("video_fast")


def test_kept_terms_are_the_callers_then_the_prompts_quotations_weights_and_lora_tags_in_order():
    prompt = 'a sign reading "OPEN" over a (red door:1.3), (soft light), rain <lora:film_grain:0.6>'
    assert kept_terms(prompt, ["ohwx style", "red door"]) == (
        KeptTerm("ohwx style", "asked"), KeptTerm('"OPEN"', "quoted"), KeptTerm("(red door:1.3)", "weight"),
        KeptTerm("<lora:film_grain:0.6>", "lora"))  # "red door" is held by its weight; "(soft light)" has none


@pytest.mark.parametrize("text, term, expected", [
    ("A sign reads \u201copen\u201d in neon.", '"OPEN"', 'A sign reads "OPEN" in neon.'),
    ("A sign reads \u201cOpen.\u201d Rain falls.", '"OPEN"', 'A sign reads "OPEN". Rain falls.'),
    ("a Red Door, rain", "(red door:1.3)", "a (red door:1.3), rain"),
    ("a (red door:1.1) in rain", "(red door:1.3)", "a (red door:1.3) in rain"),
    ("a (red door) in rain", "(red door:1.3)", "a (red door:1.3) in rain"),
    ("grain <lora:film_grain:0.9>", "<lora:film_grain:0.6>", "grain <lora:film_grain:0.6>"),
    ("Ohwx Style portrait", "ohwx style", "ohwx style portrait"),
    ("a cat", "ohwx", None),
    ("a reddish doorway", "(red door:1.3)", None),  # another word is no form of the term
])
def test_an_altered_term_is_put_back_in_its_place(text, term, expected):
    assert restore(text, term) == expected


def test_a_network_tag_and_a_weights_number_are_no_words_of_the_picture():
    assert picture_words("a (red door:1.3) <lora:x:0.6>") == "a (red door)"


def test_a_term_the_model_dropped_follows_the_quality_tags_and_a_lora_tag_ends_the_sdxl_prompt():
    prompt = "a lighthouse in a storm <lora:film_grain:0.6>"
    answer = finish("a lighthouse in a storm, crashing waves, dark clouds, dramatic lighting", prompt, SDXL_FAST,
                    CLIP, keep_terms=["ohwx style"])
    assert answer.from_model
    assert answer.text.startswith("masterpiece, best quality, highly detailed, ohwx style, a lighthouse")
    assert answer.text.endswith(", <lora:film_grain:0.6>") and answer.text.count("<lora:") == 1
    assert CLIP.count(answer.text) <= SDXL_FAST.budget


def test_a_term_the_model_dropped_opens_the_video_prompt_and_a_lora_tag_ends_it():
    raw = ("A paper boat drifts slowly across a calm pond. Ripples spread around it as a light breeze moves the "
           "water. The camera holds a steady shot.")
    answer = finish(raw, "a paper boat drifts on a pond <lora:ink:0.5>", WAN_FAST, VIDEO, keep_terms=["ohwx"])
    assert answer.text.startswith("ohwx. A paper boat drifts slowly") and answer.text.endswith(" <lora:ink:0.5>")
    assert raw.split(". ")[1] in answer.text  # the model's own sentences stay


def test_a_unit_holding_a_kept_term_outranks_one_that_alone_carries_a_prompt_word():
    keep = ("ohwx style",)
    assert rank("in ohwx style", "", "a cat", SDXL_FAST, keep) > rank("a cat", "", "a cat", SDXL_FAST, keep)


def test_an_over_budget_answer_keeps_its_kept_terms_and_drops_other_units():
    details = ", ".join(f"detail number {n} of the scene" for n in range(30))
    answer = finish(f'a cat under a sign reading "OPEN", {details}', 'a cat under a sign reading "OPEN"', SDXL_FAST,
                    CLIP, keep_terms=["ohwx style"])
    assert '"OPEN"' in answer.text and "ohwx style" in answer.text
    assert CLIP.count(answer.text) <= SDXL_FAST.budget and any(d.reason == "over_budget" for d in answer.drops)


def test_a_prompt_over_the_budget_is_cut_before_the_tags_that_hold_kept_terms():
    words = ", ".join(f"tiny detail {n}" for n in range(40))
    prompt = f'{words}, a sign reading "OPEN" <lora:ink:0.5>'
    text = finish(None, prompt, SDXL_FAST, CLIP).text
    assert 'a sign reading "OPEN"' in text and text.endswith("<lora:ink:0.5>") and "tiny detail 0" in text
    assert CLIP.count(text) <= SDXL_FAST.budget


def test_terms_that_cannot_fit_beside_the_quality_tags_are_refused():
    with pytest.raises(TermsDoNotFit, match="cannot be held within 75 tokens"):
        finish(None, "a cat", SDXL_FAST, CLIP, keep_terms=["ab1 " * 49])


def test_a_light_touch_keeps_the_users_tags_in_front_even_when_the_model_carries_the_subject():
    raw = "a grey cat curled asleep on a sunny windowsill, soft morning light, cozy interior"
    balanced = finish(raw, "sleeping cat, windowsill", SDXL_FAST, CLIP).text
    light = finish(raw, "sleeping cat, windowsill", resolve_profile("sdxl_image_fast", strength="light"), CLIP).text
    assert "sleeping cat" not in balanced
    # The user's tags lead, but for one the model's own tags already hold as written.
    assert light.startswith("masterpiece, best quality, highly detailed, sleeping cat, a grey cat")
    assert "sunny windowsill" in light
    assert "soft morning light" in light  # what the model adds stays


def test_a_light_touch_opens_a_video_prompt_with_the_users_own_sentence():
    raw = "A small robot walks through a field of tall sunflowers under a clear sky. Its antenna sways."
    light = finish(raw, "a robot strolling among sunflowers", resolve_profile("video_fast", strength="light"), VIDEO)
    assert light.text.lower().startswith("a robot strolling among sunflowers.") and "Its antenna sways." in light.text


# Real answers (enhancer/data/real_answers.jsonl, from VBench's augmented prompts): the model kept
# the user's words in their order and added to them, which a light touch should not restate.
STOP_SIGN = ("In a still frame, a classic red stop sign stands prominently in a suburban street scene. The stop "
             "sign is clearly visible against a backdrop of neatly trimmed lawns and tidy houses.")
COW = "A large, brown and white cow with big, round eyes. Realistic, Natural lighting, Peaceful"


def test_a_light_touch_does_not_restate_words_the_model_kept_in_their_order():
    light_sdxl = resolve_profile("sdxl_image_fast", strength="light")
    image = finish(STOP_SIGN, "In a still frame, a stop sign", light_sdxl, CLIP).text
    assert image.startswith("masterpiece, best quality, highly detailed, In a still frame, a classic red stop sign")
    assert image.count("stop sign") == 2  # the model's second sentence, not a restated prompt
    video = finish(COW, "a cow", resolve_profile("video_fast", strength="light"), VIDEO).text
    assert video.startswith("A large, brown and white cow") and "A cow." not in video


def test_a_light_touch_leads_with_a_tag_the_fit_split_into_phrases():
    # A long answer (heldout_answers.jsonl, line 2) that SDXL must turn into the model's phrases:
    # "depicting a flock of paper airplanes" and "fluttering through a dense jungle" no longer say
    # the user's first tag in its order, so the tag leads, as the user wrote it.
    line = json.loads((DATA / "heldout_answers.jsonl").read_text(encoding="utf-8").splitlines()[1])
    text = finish(line["raw"], line["prompt"], resolve_profile("sdxl_image_fast", strength="light"), CLIP).text
    assert text.startswith("masterpiece, best quality, highly detailed, A flock of paper airplanes flutters through "
                           "a dense jungle, weaving around trees as if they were migrating birds, ")
    assert "resembling small birds" in text  # the model's detail follows


@pytest.mark.parametrize("phrase, text, said", [
    ("a stop sign", "a classic red stop sign stands prominently", True),
    ("sleeping cat", "a grey cat curled asleep", False),  # "asleep" is no form of "sleeping"
    ("a cat on a sofa", "a sofa with a cat on it", False),  # the words, not in their order
    ("llamas playing chess", "two llamas are playing a game of chess", True),
    ("", "anything", False),
])
def test_says_in_order_allows_words_between_but_not_another_order(phrase, text, said):
    assert says_in_order(phrase, text) is said


def test_each_strength_has_its_own_guidance_and_token_allowance():
    light, balanced, rich = (resolve_profile("video_fast", strength=s) for s in ("light", "balanced", "rich"))
    assert balanced == PROFILES["wan_fast"] and balanced.guidance == ""
    assert light.max_new_tokens < balanced.max_new_tokens < rich.max_new_tokens
    assert "keep the user's words and their order" in light.guidance and "in full" in rich.guidance
    (_, system), _ = build_messages("a cat", light, None, {})
    assert system.startswith(PROFILES["wan_fast"].system_prompt) and system.endswith(light.guidance)
    (_, callers), _ = build_messages("a cat", rich, "Write a video prompt.", {})
    assert callers == f"Write a video prompt. {rich.guidance}"


def test_a_prompt_filling_most_of_the_budget_counts_as_filling_it():
    assert not fills_most_of_budget("a red fox in the snow", SDXL_FAST, CLIP)
    assert fills_most_of_budget(", ".join(["a red fox in the snow"] * 7), SDXL_FAST, CLIP)


def test_a_light_touch_leads_once_with_the_users_tags_however_often_it_runs():
    raw = ("A lighthouse on a cliff is a beacon in the sea of light; guiding you to safety. A guide with no end in "
           "sight. The light can be anything - a beacon, or something else entirely.")
    light = resolve_profile("sdxl_image_fast", strength="light")
    text = finish(raw, "a lighthouse on a cliff", light, CLIP).text
    assert text.count("a lighthouse on a cliff") == 1
    assert optimize(text, "a lighthouse on a cliff", light, CLIP) == text
