"""Off-picture text goes: talk about the content, instructions to invent or imagine, placeholders
and remarks about viewers. A sentence that still carries the prompt is repaired, not dropped."""

from __future__ import annotations

import pytest

from enhancer.postprocess import clean
from enhancer.postprocess.checks import off_picture, repair_off_picture

SPACE_RABBIT = "a rabbit in a space suit"
SHUTTLE = "A space shuttle launching into orbit, with flames and smoke billowing"


# Sentences the embedded model (SmolLM2-135M) wrote in place of a description.
@pytest.mark.parametrize("sentence", [
    "This type of content has been used in many different ways throughout history, from literature to film...",
    "Invent a new animal that can wear a space suit.",
    "This could be a rabbit.",
])
def test_small_model_talk_about_the_content_is_off_picture(sentence):
    assert off_picture(sentence, SPACE_RABBIT)
    assert repair_off_picture(sentence, SPACE_RABBIT) is None


@pytest.mark.parametrize("prompt, sentence", [
    ("a lighthouse on a cliff at night", "Viewers will feel the loneliness of the lighthouse."),
    ("a concert stage with red lights", "The stage glows red, and the audience is drawn into the music."),
    ("a portrait of a sailor", "The sailor gazes at the sea, inviting the viewer to share his calm."),
    ("a waterfall in a jungle", "The waterfall thunders into the pool, leaving the viewer in awe."),
])
def test_remarks_about_viewers_are_off_picture(prompt, sentence):
    assert off_picture(sentence, prompt)


@pytest.mark.parametrize("prompt, sentence", [
    ("a portrait of a woman", "A woman in a red dress looking at the viewer, soft window light."),
    ("a history museum", "A grand history museum hall with marble columns and glass cases."),
    ("a film studio", "A busy sound stage with cameras, lights and a painted backdrop."),
    ("a garden", "A garden inspired by Monet's Giverny, with water lilies and a green bridge."),
    ("a city skyline", "Towering skyscrapers with sleek, anime-inspired architecture rise into the sky."),
    ("a teddy bear", "The teddy bear's expression is one of pure joy and wonder."),
])
def test_picture_sentences_of_a_capable_model_are_not_off_picture(prompt, sentence):
    assert not off_picture(sentence, prompt)


def test_awe_inspiring_shuttle_launch_keeps_its_flames():
    sentence = ("The bright orange flames contrast vividly against the blue sky, creating a dramatic "
                "and awe-inspiring scene.")
    assert not off_picture(sentence, SHUTTLE)
    assert repair_off_picture(sentence, SHUTTLE) == sentence


def test_repair_cuts_the_viewer_remark_off_a_sentence_that_carries_the_prompt():
    sentence = "The ship sails into the golden dawn, inviting the viewer to imagine the journey ahead."
    assert repair_off_picture(sentence, "a ship sailing at dawn") == "The ship sails into the golden dawn."


def test_repair_drops_a_sentence_that_carries_no_prompt_word():
    sentence = "The sea glitters, inviting the viewer to imagine the journey ahead."
    assert repair_off_picture(sentence, "a ship sailing at dawn") is None


def test_repair_never_leaves_an_adjective_of_the_cut_noun_behind():
    sentence = "As the sheep run, their hooves create a rhythmic, soothing sound."
    assert repair_off_picture(sentence, "sheep running in a grass field") is None


def test_an_added_person_still_drops_the_sentence_whole():
    sentence = "A red bicycle leans on a fence, while a man thinks about his youth."
    assert repair_off_picture(sentence, "a red bicycle") is None


def test_the_users_own_words_are_not_off_picture():
    sentence = "A vintage poster celebrates the history of jazz, with saxophones and trumpets in gold."
    assert not off_picture(sentence, "a poster about the history of jazz")
    assert not off_picture("A poster of jazz throughout history.", "jazz throughout history, a poster")


@pytest.mark.parametrize("raw", [
    "[Image] A white rabbit in a silver space suit floats among the stars.",
    "<image>\nA white rabbit in a silver space suit floats among the stars.",
    "A white rabbit in a silver space suit floats among the stars. [image of a rabbit in a space suit]",
])
def test_clean_removes_image_placeholders(raw):
    assert clean(raw, SPACE_RABBIT) == "A white rabbit in a silver space suit floats among the stars."


@pytest.mark.parametrize("raw", [
    'A white rabbit in a silver space suit floats among the stars. {"prompt": "a rabbit", "style": "photo"}',
    'A white rabbit in a silver space suit floats among the stars.", "style": "photorealistic"}',
    '{"prompt": "A white rabbit in a silver space suit floats among the stars.", "style": "photo"}',
])
def test_clean_removes_json_around_the_answer(raw):
    assert clean(raw, SPACE_RABBIT) == "A white rabbit in a silver space suit floats among the stars."


def test_clean_keeps_quoted_sign_text_that_looks_like_json():
    raw = 'A shop sign reads "OPEN", "CLOSED": both glow in red neon.'
    assert clean(raw, "a shop sign") == raw
