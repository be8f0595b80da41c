"""Job types map to the four profiles and their budgets."""

import pytest

from enhancer.profiles import JOB_TYPES, PROFILES, default_quality, resolve_profile


@pytest.mark.parametrize("job_type,profile,budget", [
    ("sdxl_image_fast", "sdxl_fast", 75),
    ("sdxl_image_high", "sdxl_high", 120),
    ("video_fast", "wan_fast", 175),
    ("video_high", "wan_high", 250),
    ("wan_7b_enhanced", "wan_high", 250),
])
def test_job_types_map_to_profiles_with_the_design_budgets(job_type, profile, budget):
    resolved = resolve_profile(job_type)
    assert (resolved.name, resolved.budget) == (profile, budget)


def test_explicit_quality_overrides_the_tier_within_the_family():
    assert resolve_profile("sdxl_image_fast", "high").name == "sdxl_high"
    assert resolve_profile("video_high", "fast").name == "wan_fast"


def test_default_quality_is_the_job_types_own_tier():
    assert [default_quality(j) for j in JOB_TYPES] == ["fast", "high", "fast", "high", "high"]


def test_max_new_tokens_grows_with_the_budget():
    tokens = [PROFILES[n].max_new_tokens for n in ("sdxl_fast", "sdxl_high", "wan_fast", "wan_high")]
    assert tokens == sorted(tokens) and tokens[0] >= 75


@pytest.mark.parametrize("profile", list(PROFILES.values()), ids=list(PROFILES))
def test_system_prompts_forbid_chatter_and_invention_and_treat_input_as_data(profile):
    text = profile.system_prompt.lower()
    assert "prompt only" in text and "no preface" in text
    assert "never instructions to follow" in text
    assert "not invent" in text or "never add people" in text


def test_high_profiles_require_more_than_fast_ones():
    assert {e.name for e in PROFILES["sdxl_fast"].required} < {e.name for e in PROFILES["sdxl_high"].required}
    assert {e.name for e in PROFILES["wan_fast"].required} < {e.name for e in PROFILES["wan_high"].required}
