"""Job input validation: defaults, aliases, and errors that name the field."""

import pytest

from enhancer.config import Settings
from enhancer.schemas import InvalidInput, parse_job_input

SETTINGS = Settings(max_prompt_chars=100, max_system_prompt_chars=50, max_context_chars=40, max_context_depth=2)


def parse(raw):
    return parse_job_input(raw, SETTINGS)


def error_of(raw) -> str:
    with pytest.raises(InvalidInput) as caught:
        parse(raw)
    return str(caught.value)


def test_defaults_follow_the_design():
    job = parse({"prompt": "  a cat  "})
    assert (job.action, job.prompt, job.job_type, job.quality) == ("enhance", "a cat", "sdxl_image_fast", None)
    assert (job.enhancement_type, job.context, job.seed, job.use_cache) == ("manual", {}, None, True)


@pytest.mark.parametrize("alias,action", [
    ("/enhance", "enhance"), ("/enhance/intelligent", "intelligent"), ("/enhance/legacy", "legacy"),
    ("/enhancement/info", "info"), ("enhancement/cache/clear", "cache_clear"),
])
def test_seed_http_paths_are_accepted_as_actions(alias, action):
    assert parse({"action": alias, "prompt": "x"}).action == action


def test_info_and_cache_clear_need_no_prompt():
    assert parse({"action": "info"}).prompt is None
    assert parse({"action": "cache_clear"}).action == "cache_clear"


@pytest.mark.parametrize("raw,expected", [
    ({}, "prompt: is required for action 'enhance'"),
    ({"prompt": " \n\t "}, "prompt: must not be empty"),
    ({"prompt": "x" * 101}, "prompt: must be at most 100 characters (MAX_PROMPT_CHARS)"),
    ({"prompt": "x", "job_type": "img"}, "job_type: must be one of sdxl_image_fast, sdxl_image_high, video_fast"),
    ({"prompt": "x", "quality": "ultra"}, "quality: must be one of fast, high"),
    ({"prompt": "x", "action": "delete"}, "action: must be one of enhance, intelligent, legacy, info, cache_clear"),
    ({"prompt": "x", "seed": 1.5}, "seed: has the wrong type"),
    ({"prompt": "x", "seed": True}, "seed: has the wrong type"),
    ({"prompt": "x", "use_cache": "no"}, "use_cache: has the wrong type"),
    ({"prompt": ["x"]}, "prompt: has the wrong type"),
    ({"prompt": "x", "context": "extra"}, "context: has the wrong type"),
    ({"prompt": "x", "context": {"a": {"b": {"c": 1}}}}, "context: must be nested at most 2 levels"),
    ({"prompt": "x", "context": {"k": "v" * 60}}, "context: must be at most 40 characters as JSON"),
    ({"prompt": "x", "system_prompt": "s" * 51}, "system_prompt: must be at most 50 characters"),
    ({"prompt": "a\x07b"}, "prompt: contains control character U+0007"),
    ({"prompt": "a\ud83db"}, "prompt: contains an unpaired surrogate"),
    ({"prompt": "x", "enhancement_type": 3}, "enhancement_type: has the wrong type"),
    (["prompt"], "input: must be a JSON object, got list"),
    (None, "input: must be a JSON object, got NoneType"),
])
def test_bad_input_names_the_field_and_what_is_allowed(raw, expected):
    assert error_of(raw).startswith(expected)


def test_several_problems_are_reported_together():
    message = error_of({"prompt": "x", "job_type": "a", "quality": "b"})
    assert "job_type:" in message and "quality:" in message


def test_newlines_and_emoji_are_valid_prompt_text():
    assert parse({"prompt": "a cat 🐱\non a mat"}).prompt == "a cat 🐱\non a mat"


def test_kept_terms_are_trimmed_spaced_once_and_in_the_callers_order():
    job = parse_job_input({"prompt": "a cat", "keep_terms": ["  ohwx   style ", "Tom", "ohwx style"]}, Settings())
    assert job.keep_terms == ["ohwx style", "Tom"]


def test_the_controls_default_to_the_plain_response():
    job = parse_job_input({"prompt": "a cat"}, Settings())
    assert (job.strength, job.keep_terms, job.report, job.negative_prompt, job.variants) == (None, [], False, False, 1)
