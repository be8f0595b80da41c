"""The answer's one language: chosen by the caller's system prompt, else by the model's whole
answer, else the prompt's script; the subject across languages is not compared word for word
but marked (`Answer.cross_language`)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from enhancer.answer import finish
from enhancer.detect import language_ok, non_latin_runs
from enhancer.postprocess.language import answer_language
from enhancer.profiles import STOCK_PHRASES, resolve_profile
from enhancer.subject import CJK_RUN
from enhancer.tokens import EstimateTokenCounter, clip_counter

COUNTERS = {"sdxl": clip_counter(), "wan": EstimateTokenCounter()}
DATA = Path(__file__).resolve().parent.parent / "enhancer" / "data" / "real_answers.jsonl"

# A public prompt; the corpus holds no Chinese prompt, so the English answer below is written
# for these tests in the shape HunyuanVideo's rewriter and Wan's extender give when asked for
# English.
PUPPY = "一只小狗在草地上奔跑。"
PUPPY_EN = ("A small puppy runs across a green meadow, its ears flapping as the camera tracks "
            "alongside at ground level.")
EDGE_ENGLISH = "Rewrite the prompt in English."


def _finish(raw: str, prompt: str, job_type: str, system_prompt: str | None = None):
    profile = resolve_profile(job_type)
    return finish(raw, prompt, profile, COUNTERS[profile.family], system_prompt)


def _real(prompt_prefix: str) -> dict:
    """A real answer from the corpus: Wan's extender answering an English prompt in Chinese."""
    for line in DATA.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["prompt"].startswith(prompt_prefix) and CJK_RUN.search(row["raw"]):
            return row
    raise AssertionError(f"no real answer for {prompt_prefix!r}")


@pytest.mark.parametrize("job_type, system_prompt", [
    ("video_fast", None),
    ("video_fast", EDGE_ENGLISH),
    ("sdxl_image_fast", EDGE_ENGLISH),
])
def test_chinese_prompt_answered_wholly_in_english_keeps_the_models_english(job_type, system_prompt):
    answer = _finish(PUPPY_EN, PUPPY, job_type, system_prompt)
    assert answer.from_model
    assert PUPPY_EN in answer.text
    assert not non_latin_runs(answer.text), answer.text  # neither the user's Chinese nor Chinese stock
    assert not any(d.reason == "other_language" for d in answer.drops)
    assert answer.cross_language


@pytest.mark.parametrize("job_type", ["video_fast", "sdxl_image_fast"])
def test_english_answer_to_chinese_prompt_gets_english_stock_where_repaired(job_type):
    # The invented man goes; what is left is thin, so stock fills it: in English.
    raw = "A small puppy runs across the meadow. A man throws a ball for it."
    answer = _finish(raw, PUPPY, job_type)
    assert "A small puppy runs across the meadow." in answer.text
    assert "man" not in answer.text
    assert not non_latin_runs(answer.text), answer.text
    assert any(p in answer.text for p in STOCK_PHRASES), answer.text
    assert answer.cross_language


@pytest.mark.parametrize("job_type", ["video_fast", "sdxl_image_fast"])
def test_chinese_prompt_with_mostly_chinese_answer_loses_its_stray_english_sentence(job_type):
    raw = "一只小狗在绿色的草地上欢快地奔跑，耳朵随风飘动。镜头贴近地面跟随拍摄。The sunlight is warm and golden."
    answer = _finish(raw, PUPPY, job_type)
    assert answer.from_model
    assert "sunlight" not in answer.text
    assert "一只小狗在绿色的草地上欢快地奔跑" in answer.text
    assert "other_language" in {d.reason for d in answer.drops}
    assert not answer.cross_language


def test_english_prompt_loses_the_sentence_with_a_chinese_word_in_an_english_answer():
    raw = "A red fox sits in the snow. A silk 窗帘 hangs at the window. Soft light falls on its fur."
    answer = _finish(raw, "A red fox in the snow", "video_fast")
    assert "A red fox sits in the snow." in answer.text
    assert "窗帘" not in answer.text and "silk" not in answer.text
    assert not answer.cross_language


@pytest.mark.parametrize("system_prompt", [None, "请用中文改写提示词。"])
def test_english_prompt_answered_wholly_in_chinese_is_not_kept_as_chinese_for_sdxl(system_prompt):
    row = _real("A panda standing on a surfboard")
    answer = _finish(row["raw"], row["prompt"], "sdxl_image_fast", system_prompt)
    assert not CJK_RUN.search(answer.text), answer.text
    assert "panda" in answer.text.lower()


def test_english_prompt_answered_in_chinese_for_wan_is_kept_only_when_the_caller_asks_chinese():
    row = _real("A panda standing on a surfboard")
    built_in = _finish(row["raw"], row["prompt"], "video_fast")
    assert not CJK_RUN.search(built_in.text)  # as before: the prompt's script
    asked = _finish(row["raw"], row["prompt"], "video_fast", "Rewrite the prompt in Chinese.")
    assert asked.from_model and asked.cross_language
    assert "大熊猫站在冲浪板上" in asked.text
    assert not row["prompt"] in asked.text  # the user's English is not put in front of it


def test_system_prompt_decides_over_the_answer():
    assert answer_language(PUPPY_EN, PUPPY, "wan", "Answer in Chinese only.") == "native"
    assert answer_language("一只小狗在奔跑。", PUPPY, "wan", "请用英文输出。") == "latin"
    assert answer_language("A dog.", "a dog", "wan", "用中文改写") == "native"
    assert answer_language("A dog.", "a dog", "sdxl", "用中文改写") == "latin"  # CLIP reads English


def test_answer_decides_only_when_wholly_in_one_language():
    assert answer_language(PUPPY_EN, PUPPY, "wan", None) == "latin"
    # The user's own Chinese words inside an English answer do not make it a mix.
    assert answer_language(f"{PUPPY_EN} 一只小狗", PUPPY, "wan", None) == "latin"
    half = "一只小狗在草地上欢快地奔跑。The sunlight is warm and golden on the grass."
    assert answer_language(half, PUPPY, "wan", None) == "native"
    # An English prompt is never "native" by its answer alone.
    assert answer_language("一只熊猫在冲浪。", "A panda surfing", "wan", None) == "latin"


@pytest.mark.parametrize("family", ["wan", "sdxl"])
def test_language_ok_takes_a_wholly_english_answer_to_a_chinese_prompt_but_no_mix(family):
    assert language_ok(PUPPY_EN, PUPPY, family)
    # Chinese of the model's own beside English is still a mix.
    assert not language_ok(f"一只小狗在草地上奔跑，阳光明媚。 {PUPPY_EN}", PUPPY, family)
    assert not language_ok("", PUPPY, family)


def test_an_english_answer_to_a_chinese_prompt_about_something_else_is_not_the_models():
    # The embedded 135M model, asked about a puppy running on grass in Chinese, answered with a
    # story about permits (a real answer of SmolLM2-135M-Instruct, 2026-12-01). Its English cannot
    # be matched word for word, but the prompt's dog, grass and running are nowhere in it.
    from enhancer.answer import finish
    from enhancer.profiles import PROFILES
    from enhancer.tokens import EstimateTokenCounter

    prompt = "一只小狗在草地上奔跑。"
    raw = ("They also need to ensure they have the necessary permits and resources before starting "
           "production.")
    answer = finish(raw, prompt, PROFILES["wan_fast"], EstimateTokenCounter())
    assert not answer.from_model and "小狗" in answer.text
