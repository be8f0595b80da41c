"""assess() and content_words(): the flags and score the response carries."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enhancer.postprocess import optimize
from enhancer.profiles import PROFILES
from enhancer.quality import Assessment, assess
from enhancer.subject import content_words, subject_coverage
from enhancer.tokens import EstimateTokenCounter, clip_counter

CLIP = clip_counter()
ESTIMATE = EstimateTokenCounter()
SDXL_FAST = PROFILES["sdxl_fast"]
WAN_FAST = PROFILES["wan_fast"]

GOOD_SDXL = (
    "masterpiece, best quality, highly detailed, a cat on a sofa, fluffy orange fur, cozy living "
    "room, warm afternoon sunlight through the window, soft shadows, sharp focus, shallow depth of "
    "field, 85mm lens, 8k uhd, warm color palette, photorealistic, intricate textures, a knitted blanket"
)
GOOD_WAN = (
    "A dog runs along a sunny beach, its ears flapping as waves roll in behind it. The camera "
    "tracks alongside at a low angle, keeping the dog centered in a smooth, steady shot. Sand "
    "sprays from its paws with every stride while seagulls drift overhead. The light stays warm "
    "and golden, and the motion stays consistent from frame to frame, like a cinematic film "
    "sequence with realistic detail. Foam swirls around its legs as it splashes through the "
    "shallows, and the horizon glows softly in the distance."
)


def test_content_words_are_lowercased_without_stopwords():
    assert content_words("A Cat on the Sofa, with a RED ball") == ["cat", "sofa", "red", "ball"]


def test_content_words_returns_cjk_runs_whole():
    assert content_words("一只猫在沙发上") == ["一只猫在沙发上"]
    assert content_words("a cat 猫, sleeping") == ["cat", "猫", "sleeping"]


def test_content_words_of_punctuation_or_emoji_is_empty():
    assert content_words("... 🐱 !!") == []


def test_subject_coverage_tolerates_plurals_and_verb_forms():
    assert subject_coverage("Two cats are running across the sofas", "a cat running on a sofa") == 1.0
    assert subject_coverage("A dog on a beach", "a cat on a sofa") == 0.0


def test_sdxl_flags_are_exactly_the_response_fields():
    result = assess(GOOD_SDXL, "a cat on a sofa", SDXL_FAST, CLIP)
    assert result.flags == {
        "has_quality_tags": True,
        "has_lighting": True,
        "has_technical_terms": True,
        "has_resolution": True,
        "token_count": CLIP.count(GOOD_SDXL),
    }


def test_wan_flags_are_exactly_the_response_fields():
    result = assess(GOOD_WAN, "a dog running on a beach", WAN_FAST, ESTIMATE)
    assert result.flags == {
        "has_motion": True,
        "has_cinematography": True,
        "has_temporal": True,
        "has_quality": True,
        "token_count": ESTIMATE.count(GOOD_WAN),
    }


def test_flags_report_what_is_missing():
    flags = assess("a cat on a sofa", "a cat on a sofa", SDXL_FAST, CLIP).flags
    assert flags["has_quality_tags"] is False and flags["has_lighting"] is False
    flags = assess("A dog.", "a dog", WAN_FAST, ESTIMATE).flags
    assert not any(v for k, v in flags.items() if k != "token_count")


def test_a_good_prompt_scores_high():
    assert assess(GOOD_SDXL, "a cat on a sofa", SDXL_FAST, CLIP).score >= 0.95
    assert assess(GOOD_WAN, "a dog running on a beach", WAN_FAST, ESTIMATE).score >= 0.9


def test_going_over_budget_costs_the_budget_share():
    fits = assess(GOOD_SDXL, "a cat on a sofa", SDXL_FAST, CLIP)
    over_text = GOOD_SDXL + ", " + ", ".join(f"extra detail {i}" for i in range(30))
    over = assess(over_text, "a cat on a sofa", SDXL_FAST, CLIP)
    assert over.flags["token_count"] > SDXL_FAST.budget
    assert over.score == pytest.approx(fits.score - 0.3, abs=1e-3)


def test_a_prompt_far_under_the_target_gets_partial_budget_credit():
    short = assess("masterpiece, cat, soft lighting, sharp focus", "cat", SDXL_FAST, CLIP)
    full = assess(GOOD_SDXL.replace("a cat on a sofa", "cat"), "cat", SDXL_FAST, CLIP)
    assert 0.7 < short.score < full.score


def test_losing_the_subject_lowers_the_score():
    kept = assess(GOOD_SDXL, "a cat on a sofa", SDXL_FAST, CLIP).score
    lost = assess(GOOD_SDXL, "a red bicycle", SDXL_FAST, CLIP).score
    assert lost == pytest.approx(kept - 0.3, abs=1e-3)


def test_empty_text_scores_zero():
    assert assess("", "a cat", SDXL_FAST, CLIP).score == 0.0
    assert assess("", "a cat", WAN_FAST, ESTIMATE).flags["token_count"] == 0


def test_assessment_is_frozen():
    result = assess(GOOD_SDXL, "a cat on a sofa", SDXL_FAST, CLIP)
    assert isinstance(result, Assessment)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.score = 1.0  # type: ignore[misc]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=300), original=st.text(max_size=100), name=st.sampled_from(sorted(PROFILES)))
def test_score_is_between_zero_and_one_rounded_to_three_places(text, original, name):
    profile = PROFILES[name]
    counter = CLIP if profile.family == "sdxl" else ESTIMATE
    for candidate in (text, optimize(text, original, profile, counter)):
        score = assess(candidate, original, profile, counter).score
        assert 0.0 <= score <= 1.0
        assert score == round(score, 3)


def test_padding_earns_no_budget_credit():
    # The prompt said again beside the model's sentence that says it, and the stock phrases the
    # worker appends, fill tokens but say nothing the answer did not: the score stays.
    cow = "A large, brown and white cow with big, round eyes, grazing in a meadow."
    assert assess(f"A cow. {cow}", "a cow", WAN_FAST, ESTIMATE).score == assess(cow, "a cow", WAN_FAST, ESTIMATE).score
    plain = assess("a cat on a sofa", "a cat on a sofa", SDXL_FAST, CLIP).score
    padded = assess("masterpiece, best quality, highly detailed, a cat on a sofa, soft natural lighting, sharp focus, "
                    "intricate details", "a cat on a sofa", SDXL_FAST, CLIP).score
    assert padded == plain
