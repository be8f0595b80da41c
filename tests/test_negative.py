"""Negative prompts: the target's own, the caller's merged, and nothing that negates the positive."""

from __future__ import annotations

import pytest

from enhancer.negative import WAN_NEGATIVE_EN, WAN_NEGATIVE_ZH, build, contradiction
from enhancer.tokens import clip_counter


@pytest.fixture(scope="module")
def clip():
    return clip_counter()


def test_wan_gets_its_published_default_in_the_answers_language():
    assert build("wan", "a fox runs through snow", True, None).text == WAN_NEGATIVE_EN
    assert build("wan", "一只狐狸在雪地里奔跑", True, None, chinese=True).text == WAN_NEGATIVE_ZH


def test_sdxl_gets_artifact_tags_within_one_clip_window(clip):
    negative = build("sdxl", "a fox in the snow, photo", True, clip)
    assert "watermark" in negative.text and "low quality" in negative.text
    assert clip.count(negative.text) <= 75 and negative.removed == ()


def test_nothing_is_returned_unless_asked_for(clip):
    assert build("sdxl", "a fox", False, clip) is None


@pytest.mark.parametrize("positive,term", [
    ("portrait with creamy bokeh", "blurry"),
    ("a car at speed, motion blur", "blurred details"),
    ("a cartoon fox in a forest", "cartoon"),
    ("anime girl under cherry blossoms", "style"),
    ("an oil painting of a harbour", "paintings"),
    ("a still frame of a quiet street", "static"),
    ("a neon sign that reads \"OPEN\"", "text"),
    ("a cafe chalkboard with the words \"fresh bread\"", "letters"),
    ("a black and white portrait", "overall gray"),
    ("a busy street market with crowds", "many people in the background"),
    ("a moonwalking dancer moving backwards", "walking backwards"),
    ("pixel art castle", "jpeg artifacts"),
])
def test_a_term_that_negates_what_the_positive_asks_for_is_named(positive, term):
    assert contradiction(term, positive) is not None


@pytest.mark.parametrize("term", ["blurry", "cartoon", "static", "text", "overall gray", "poorly drawn hands",
                                  "watermark", "low quality"])
def test_a_plain_prompt_contradicts_none_of_the_usual_terms(term):
    assert contradiction(term, "a red fox standing in a snowy forest at dawn, photograph") is None


def test_the_contradicting_terms_of_the_wan_default_are_removed_and_listed():
    positive = "A hand-drawn cartoon of a fox, a still frame with bokeh and a sign that reads \"HELLO\""
    negative = build("wan", positive, True, None)
    removed = {r.term for r in negative.removed}
    assert {"static", "blurred details", "subtitles", "style", "paintings", "still picture"} <= removed
    assert "poorly drawn hands" in negative.text and "worst quality" in negative.text
    assert all(r.reason.startswith("contradicts ") for r in negative.removed)
    chinese = build("wan", positive, True, None, chinese=True)
    assert "细节模糊不清" in {r.term for r in chinese.removed} and "最差质量" in chinese.text


def test_a_callers_own_negative_comes_first_and_is_not_said_twice(clip):
    negative = build("sdxl", "a fox in the snow", "extra tails, watermark, blurry", clip)
    terms = negative.text.split(", ")
    assert terms[:3] == ["extra tails", "watermark", "blurry"]
    assert terms.count("watermark") == 1 and terms.count("blurry") == 1


def test_a_callers_term_that_contradicts_the_positive_is_removed_too(clip):
    negative = build("sdxl", "portrait, shallow depth of field, bokeh", "bokeh, people", clip)
    assert "bokeh" not in negative.text.split(", ")
    assert [r.term for r in negative.removed][:1] == ["bokeh"]


def test_an_sdxl_negative_over_one_window_drops_the_targets_terms_from_the_end_first(clip):
    caller = ", ".join(f"unwanted thing number {n}" for n in range(8))
    negative = build("sdxl", "a fox", caller, clip)
    assert clip.count(negative.text) <= 75
    assert negative.text.startswith("unwanted thing number 0")
    assert any(r.reason == "over budget" for r in negative.removed)
