"""The change report (enhancer/report.py): on the real post-processing of real and hand-made
model answers, every reported string is located by its span in the enhanced prompt."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enhancer.answer import finish
from enhancer.negative import Removed
from enhancer.postprocess.fit import Drop
from enhancer.postprocess.keep import kept_terms, picture_words
from enhancer.profiles import resolve_profile
from enhancer.report import changes
from enhancer.subject import carried_words, carrier, required_words
from enhancer.tokens import EstimateTokenCounter, clip_counter

REAL_ANSWERS = Path(__file__).resolve().parent.parent / "enhancer" / "data" / "real_answers.jsonl"
SDXL = resolve_profile("sdxl_image_fast")
WAN = resolve_profile("video_fast")


def _counter(profile):
    return clip_counter() if profile.family == "sdxl" else EstimateTokenCounter()


def report(raw, original, profile=SDXL, **extra):
    """The report for a model's raw answer (None: no model) as the worker would make it."""
    counter = _counter(profile)
    answer = finish(raw, original, profile, counter)
    out = changes(text=answer.text, original=original, cleaned=answer.cleaned, from_model=answer.from_model,
                  drops=answer.drops, kept=kept_terms(original), profile=profile, counter=counter, **extra)
    assert_spans_hold(out, answer.text)
    return answer, out


def assert_spans_hold(out, text):
    for entry in out["words"]:
        if entry["carried"] == "missing":
            assert "span" not in entry and "by" not in entry
        else:
            start, end = entry["span"]
            assert text[start:end] == entry["by"], entry
    for entry in out["kept_terms"]:
        if entry["span"] is not None:
            start, end = entry["span"]
            assert text[start:end] == entry["term"], entry
    for entry in out["added"]:
        start, end = entry["span"]
        assert text[start:end] == entry["text"], entry


def words(out):
    return {e["word"]: e for e in out["words"]}


def added(out):
    return {e["text"]: e["why"] for e in out["added"]}


def _real(job_family, n):
    with REAL_ANSWERS.open() as lines:
        rows = (json.loads(line) for line in lines)
        return list(islice((r for r in rows if resolve_profile(r["job_type"]).family == job_family), n))


REAL = _real("wan", 30) + _real("sdxl", 30)


def test_sdxl_counts_both_clip_encoders_with_one_count():
    answer, out = report("a fluffy cat asleep on a velvet sofa, warm window light", "a cat on a sofa")
    n = clip_counter().count(answer.text)
    assert out["tokens"] == {"encoders": {"clip_vit_l": n, "openclip_vit_bigg": n}, "budget": 75,
                             "counted_with": "clip-bpe"}


def test_wan_counts_the_umt5_encoder():
    answer, out = report("A cat sleeps on a sofa as sunlight drifts across the room.", "a cat on a sofa", WAN)
    n = EstimateTokenCounter().count(answer.text)
    assert out["tokens"] == {"encoders": {"umt5_xxl": n}, "budget": WAN.budget, "counted_with": "estimate"}


def test_strength_is_passed_through():
    _, out = report("a cat asleep on a sofa", "a cat on a sofa", strength="light", strength_chosen="auto")
    assert out["strength"] == {"applied": "light", "chosen_by": "auto"}


def test_an_inflected_word_is_carried_literally_by_the_word_as_written():
    _, out = report("two Cats curled up on a sofa, soft light", "a cat on a sofa")
    assert words(out)["cat"] == {**words(out)["cat"], "carried": "literal", "by": "Cats"}
    assert words(out)["sofa"]["carried"] == "literal"


def test_a_word_of_the_same_group_carries_it_as_a_synonym():
    _, out = report("fluffy tabby kitten napping on a velvet couch, warm window light", "a cat on a sofa")
    assert words(out)["sofa"]["carried"] == "synonym" and words(out)["sofa"]["by"] == "couch"
    assert words(out)["cat"]["carried"] == "synonym"


def test_a_kind_carries_its_category():
    _, out = report("a golden eagle soaring above a misty lake at dawn", "a bird flying over a lake")
    assert (words(out)["bird"]["carried"], words(out)["bird"]["by"]) == ("kind", "eagle")
    assert (words(out)["flying"]["carried"], words(out)["flying"]["by"]) == ("synonym", "soaring")


def test_the_users_words_put_back_for_a_lost_subject_are_repaired():
    answer, out = report("snowy winter forest at dawn, soft light, detailed", "a red fox in the snow")
    assert answer.from_model
    assert words(out)["fox"]["carried"] == "repaired" and words(out)["red"]["carried"] == "repaired"
    # The model said "snowy" itself: that word was never lost.
    assert words(out)["snow"]["carried"] == "literal"
    assert added(out)["a red fox in the snow"] == "prompt_words"


def test_a_word_the_text_does_not_carry_is_missing_without_a_span():
    out = changes(text="a dog on a lawn", original="a cat on a lawn", cleaned="a dog on a lawn", from_model=True,
                  drops=(), kept=(), profile=SDXL, counter=clip_counter())
    assert words(out)["cat"] == {"word": "cat", "carried": "missing"}


def test_quality_tags_the_worker_put_in_front_are_added():
    answer, out = report("a fluffy cat asleep on a velvet sofa, warm window light", "a cat on a sofa")
    assert answer.text.startswith("masterpiece, best quality, highly detailed, ")
    assert added(out) == {"masterpiece": "quality_tags", "best quality": "quality_tags",
                          "highly detailed": "quality_tags"}
    assert out["added"][0]["span"] == [0, len("masterpiece")]


def test_what_the_model_wrote_is_not_listed_as_added():
    answer, out = report("A cat sleeps on a sofa as sunlight drifts across the quiet room.", "a cat on a sofa", WAN)
    assert answer.text == "A cat sleeps on a sofa as sunlight drifts across the quiet room."
    assert out["added"] == []


def test_stock_phrases_for_a_thin_repaired_answer_name_their_element():
    answer, out = report("A snowy winter forest glows at dawn as snowflakes drift.", "a red fox walking in the snow",
                         WAN)
    assert answer.from_model
    assert added(out) == {
        "A red fox walking in the snow.": "prompt_words",
        WAN.required[1].default: "cinematography",
        WAN.required[2].default: "temporal",
    }


def test_sdxl_stock_tags_name_their_element():
    _, out = report("A majestic creature stands in a snowy winter forest at dawn, its breath misting in the "
                    "cold air.", "a red fox in the snow")
    assert added(out)["sharp focus"] == "technical" and added(out)["intricate details"] == "technical"


def test_the_rules_answer_lists_its_units():
    answer, out = report(None, "a cat on a sofa")
    assert not answer.from_model
    assert added(out) == {"masterpiece": "quality_tags", "best quality": "quality_tags",
                          "highly detailed": "quality_tags", "a cat on a sofa": "prompt_words",
                          "soft natural lighting": "rules_answer", "sharp focus": "rules_answer",
                          "intricate details": "rules_answer"}
    # The rules wrote the prompt's words: none of them was repaired.
    assert {e["carried"] for e in out["words"]} == {"literal"}


def test_a_wan_rules_answer_keeps_the_users_sentence_apart_from_the_stock():
    _, out = report(None, "a cat on a sofa", WAN)
    whys = list(added(out).values())
    assert whys[0] == "prompt_words" and set(whys[1:]) == {"rules_answer"}


def test_a_lora_tag_the_model_dropped_is_restored_where_the_text_holds_it():
    original = "a cat in a garden <lora:catstyle:0.7>"
    cleaned = "a fluffy cat sitting among flowers in a garden, soft light"
    text = "masterpiece, best quality, highly detailed, " + cleaned + ", <lora:catstyle:0.7>"
    out = changes(text=text, original=original, cleaned=cleaned, from_model=True, drops=(),
                  kept=kept_terms(original), profile=SDXL, counter=clip_counter())
    assert_spans_hold(out, text)
    start = text.index("<lora:")
    assert out["kept_terms"] == [{"term": "<lora:catstyle:0.7>", "kind": "lora", "restored": True,
                                  "span": [start, len(text)]}]
    assert added(out)["<lora:catstyle:0.7>"] == "kept_term"
    # The tag steers weights: its name and weight are not words of the picture.
    assert [e["word"] for e in out["words"]] == ["cat", "garden"]


def test_a_kept_term_the_model_wrote_is_not_restored():
    original = 'a shop sign reading "OPEN"'
    text = 'a wooden shop sign reading "OPEN", warm light'
    out = changes(text=text, original=original, cleaned=text, from_model=True, drops=(),
                  kept=kept_terms(original), profile=SDXL, counter=clip_counter())
    assert out["kept_terms"] == [{"term": '"OPEN"', "kind": "quoted", "restored": False,
                                  "span": [text.index('"'), text.index('"') + 6]}]


def test_a_kept_term_missing_from_the_text_has_no_span():
    out = changes(text="a cat", original="a cat", cleaned="a cat", from_model=True, drops=(),
                  kept=kept_terms("a cat", asked=["Acme"]), profile=SDXL, counter=clip_counter())
    assert out["kept_terms"] == [{"term": "Acme", "kind": "asked", "restored": True, "span": None}]


def test_a_weighted_group_stays_one_unit():
    original = "a woman in a (red dress:1.3), dancing"
    cleaned = "a woman in a red dress dancing in the rain"
    text = "masterpiece, a woman in a (red dress:1.3), dancing in the rain"
    out = changes(text=text, original=original, cleaned=cleaned, from_model=True, drops=(),
                  kept=kept_terms(original), profile=SDXL, counter=clip_counter())
    assert_spans_hold(out, text)
    assert added(out)["a woman in a (red dress:1.3)"] == "kept_term"
    assert out["kept_terms"][0]["restored"] is True


def test_drops_and_removed_negative_terms_are_passed_through():
    answer, out = report("a dog running on the beach, golden hour", "a cat on a sofa",
                         negative_removed=(Removed("blurry", "contradicts blur or bokeh: bokeh"),))
    assert out["dropped"] == [{"text": d.text, "reason": d.reason} for d in answer.drops]
    assert out["dropped"] and out["dropped"][0]["reason"] == "invented_animal"
    assert out["negative_removed"] == [{"term": "blurry", "reason": "contradicts blur or bokeh: bokeh"}]
    explicit = changes(text="a cat", original="a cat", cleaned="a cat", from_model=True,
                       drops=(Drop("a big dog", "invented_animal"),), kept=(), profile=SDXL, counter=clip_counter())
    assert explicit["dropped"] == [{"text": "a big dog", "reason": "invented_animal"}]


def test_a_chinese_prompt_character_in_the_text_is_literal():
    answer, out = report("一只小狗在草地上奔跑，阳光明媚。", "一只小狗在草地上奔跑", WAN)
    entries = out["words"]
    assert [e["word"] for e in entries] == list(required_words("一只小狗在草地上奔跑"))
    assert all(e["carried"] == "literal" for e in entries)
    assert words(out)["狗"]["span"] == [answer.text.index("狗"), answer.text.index("狗") + 1]


def test_an_english_answer_carries_a_chinese_prompt_by_translation():
    _, out = report("a puppy running across a green meadow, sunny day, soft light", "一只小狗在草地上奔跑")
    assert (words(out)["狗"]["carried"], words(out)["狗"]["by"]) == ("synonym", "puppy")
    assert words(out)["草"]["by"] == "meadow" and words(out)["跑"]["by"] == "running"
    # "上" (on) names nothing the lists can translate.
    assert words(out)["上"]["carried"] == "missing"


_PIECES = st.sampled_from(["a cat", "Cats", "kitten", "sofa", "masterpiece", "best quality", ", ", ". ", " ", "\n",
                           '"OPEN"', '"', "(red dress:1.3)", "(", "]", "<lora:x:0.6>", "小猫", "。",
                           "soft natural lighting", "The camera holds a steady shot that keeps the subject in frame."])
_TEXTS = st.lists(_PIECES, max_size=12).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TEXTS, original=_TEXTS, cleaned=st.none() | _TEXTS, sdxl=st.booleans())
def test_every_span_holds_its_string_on_any_text(text, original, cleaned, sdxl):
    profile = SDXL if sdxl else WAN
    out = changes(text=text, original=original, cleaned=cleaned, from_model=cleaned is not None, drops=(),
                  kept=kept_terms(original), profile=profile, counter=_counter(profile))
    assert_spans_hold(out, text)
    assert [e["word"] for e in out["words"]] == list(required_words(picture_words(original)))


def test_the_report_is_json_serialisable():
    _, out = report("fluffy tabby kitten napping on a velvet couch", "a cat on a sofa <lora:x:0.6>")
    assert json.loads(json.dumps(out)) == out


@pytest.mark.parametrize("row", REAL, ids=lambda r: f"{r['job_type']}:{r['prompt'][:30]}")
def test_real_answers_report_every_required_word_at_a_true_span(row):
    profile = resolve_profile(row["job_type"])
    answer, out = report(row["raw"], row["prompt"], profile)  # report() checks every span
    assert [e["word"] for e in out["words"]] == list(required_words(picture_words(row["prompt"])))
    carried = carried_words(answer.text, row["prompt"])
    for entry in out["words"]:
        assert (entry["carried"] != "missing") == (entry["word"] in carried), entry
        if entry["carried"] == "repaired":
            assert entry["word"] not in carried_words(answer.cleaned, row["prompt"])
    for entry in out["added"]:
        assert entry["why"] in {"quality_tags", "kept_term", "prompt_words", "worker", "rules_answer",
                                *(e.name for e in profile.required)}
        if answer.from_model:
            assert entry["why"] != "rules_answer"


def test_carrier_agrees_with_carried_words_on_real_answers():
    with REAL_ANSWERS.open() as lines:
        for row in map(json.loads, lines):
            carried = carried_words(row["raw"], row["prompt"])
            for word in required_words(row["prompt"]):
                found = carrier(word, row["raw"])
                assert (found is not None) == (word in carried), (word, row["prompt"])
                if found:
                    by, start, end, how = found
                    assert row["raw"][start:end] == by and how in {"literal", "synonym", "kind"}


def test_carrier_names_how_a_word_is_carried():
    assert carrier("cat", "three cats") == ("cats", 6, 10, "literal")
    assert carrier("bike", "a red bicycle") == ("bicycle", 6, 13, "synonym")
    assert carrier("person", "a Woman smiles") == ("Woman", 2, 7, "kind")
    assert carrier("animal", "a fox") == ("fox", 2, 5, "kind")
    assert carrier("cat", "a dog") is None


def test_a_model_unit_without_its_stray_bracket_is_still_the_models():
    original = "a baby panda wearing a red hat and blue pants"
    cleaned = "a baby panda wearing a red hat, and blue pants] the panda sits with a big smile"
    text = "masterpiece, a baby panda wearing a red hat, and blue pants the panda sits with a big smile"
    out = changes(text=text, original=original, cleaned=cleaned, from_model=True, drops=(), kept=(),
                  profile=SDXL, counter=clip_counter())
    assert added(out) == {"masterpiece": "quality_tags"}
