"""emergency_enhance(): an answer by rules alone, within budget, when there is no model text."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enhancer.fallback import emergency_enhance
from enhancer.postprocess import optimize
from enhancer.profiles import MOTION, PROFILES, QUALITY_TAGS, VIDEO_QUALITY
from enhancer.quality import assess
from enhancer.subject import subject_coverage
from enhancer.tokens import EstimateTokenCounter, clip_counter

CLIP = clip_counter()
ESTIMATE = EstimateTokenCounter()


def counter_for(profile):
    return CLIP if profile.family == "sdxl" else ESTIMATE


@pytest.mark.parametrize("name", sorted(PROFILES))
@pytest.mark.parametrize("original", ["cat", "a fox on a cliff at dawn", "portrait of a woman, (red dress:1.2)"])
def test_fallback_keeps_the_subject_and_every_required_element_within_budget(name, original):
    profile = PROFILES[name]
    counter = counter_for(profile)
    out = emergency_enhance(original, profile, counter)
    assert counter.count(out) <= profile.budget
    assert subject_coverage(out, original) == 1.0
    for element in profile.required:
        assert element.present_in(out), element.name


def test_fallback_does_not_make_a_still_or_lifeless_subject_move():
    for prompt in ("a lighthouse on a cliff at dawn", "In a still frame, a fox"):
        out = emergency_enhance(prompt, PROFILES["wan_fast"], ESTIMATE)
        assert MOTION.default not in out, prompt


def test_sdxl_fallback_reads_quality_subject_lighting_technical():
    out = emergency_enhance("a cat on a sofa", PROFILES["sdxl_fast"], CLIP)
    assert out == (
        "masterpiece, best quality, highly detailed, a cat on a sofa, soft natural lighting, "
        "sharp focus, intricate details"
    )


def test_sdxl_high_fallback_adds_camera_and_resolution():
    out = emergency_enhance("a cat on a sofa", PROFILES["sdxl_high"], CLIP)
    assert out.endswith("85mm lens, f/1.8, 8k uhd")
    assert assess(out, "a cat on a sofa", PROFILES["sdxl_high"], CLIP).flags["has_resolution"]


def test_wan_fallback_is_prose_that_opens_with_the_prompt():
    out = emergency_enhance("a dog running on a beach", PROFILES["wan_fast"], ESTIMATE)
    # "running" is motion already: the stock motion sentence is not added.
    assert out.startswith("A dog running on a beach. The camera holds a steady shot")
    assert "\n" not in out and out.endswith(".")


def test_wan_high_fallback_adds_cinematic_quality_but_not_realism_to_a_drawn_style():
    out = emergency_enhance("a dog running on a beach", PROFILES["wan_high"], ESTIMATE)
    assert VIDEO_QUALITY.default in out
    out = emergency_enhance("a dog running on a beach, pixel art", PROFILES["wan_high"], ESTIMATE)
    assert VIDEO_QUALITY.default not in out and VIDEO_QUALITY.stylized in out


def test_fallback_compresses_an_overlong_prompt():
    original = " ".join(f"word{i}" for i in range(400))
    for name, profile in PROFILES.items():
        counter = counter_for(profile)
        out = emergency_enhance(original, profile, counter)
        assert counter.count(out) <= profile.budget, name
        if profile.family == "sdxl":
            assert out.startswith("masterpiece, word0 word1")


def test_fallback_keeps_a_chinese_prompt_verbatim():
    for name, profile in PROFILES.items():
        out = emergency_enhance("一只猫在沙发上", profile, counter_for(profile))
        assert "一只猫在沙发上" in out, name


def test_fallback_output_is_already_optimized():
    for profile in PROFILES.values():
        counter = counter_for(profile)
        out = emergency_enhance("a red fox in the snow", profile, counter)
        assert optimize(out, "a red fox in the snow", profile, counter) == out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(original=st.text(max_size=300), name=st.sampled_from(sorted(PROFILES)))
def test_fallback_is_deterministic_and_within_budget_for_any_prompt(original, name):
    profile = PROFILES[name]
    counter = counter_for(profile)
    out = emergency_enhance(original, profile, counter)
    assert counter.count(out) <= profile.budget
    assert emergency_enhance(original, profile, counter) == out
    if profile.family == "sdxl":
        assert QUALITY_TAGS.present_in(out)
