"""The fit's ranking and its put-back, on small units (a pure function: budgets in words here)."""

from __future__ import annotations

from enhancer.postprocess.fit import Drop, fit, rank
from enhancer.profiles import PROFILES

SDXL = PROFILES["sdxl_fast"]


def within(words: int):
    return lambda parts: sum(len(p.split()) for p in parts) <= words


def render(parts: list[str]) -> str:
    return ", ".join(parts)


def test_a_unit_that_alone_carries_a_prompt_word_goes_last():
    units = ["a red fox", "in the snow", "soft golden light", "a painted backdrop"]
    drops: list[Drop] = []
    kept = fit(units, within(6), render, "a red fox in the snow", SDXL, drops=drops)
    assert kept == ["a red fox", "in the snow"]
    assert [d.text for d in drops] == ["a painted backdrop", "soft golden light"]
    assert {d.reason for d in drops} == {"over_budget"}


def test_the_only_holder_of_a_required_element_outranks_the_rest():
    rest = "a red fox, in the snow"
    prompt = "a red fox in the snow"
    assert rank("soft golden light", rest, prompt, SDXL) > rank("a painted backdrop", rest, prompt, SDXL)
    assert rank("in the snow", "a red fox", prompt, SDXL) > rank("soft golden light", rest, prompt, SDXL)


def test_what_went_comes_back_where_it_still_fits():
    # The short last unit has to go before the long one (the later goes first); once the long one
    # is gone too, the short one fits again and comes back.
    units = ["a red fox", "under a vast and very stormy winter sky", "at dusk"]
    drops: list[Drop] = []
    kept = fit(units, within(6), render, "a red fox", SDXL, drops=drops)
    assert kept == ["a red fox", "at dusk"]
    assert [d.text for d in drops] == ["under a vast and very stormy winter sky"]


def test_a_modifier_keeps_the_unit_it_modifies_alive_and_never_comes_back_without_it():
    units = ["a red fox", "a wooden cabin", "covered in fresh snow", "a distant hill"]
    # The cabin carries no word of the prompt, its modifier does: the cabin stays for it.
    kept = fit(units, within(10), render, "a red fox covered in snow", SDXL, follows={2: 1})
    assert kept == ["a red fox", "a wooden cabin", "covered in fresh snow"]
    # "snowy" would fit beside the fox, but not without the cabin it describes.
    kept = fit(["a red fox", "a wooden cabin", "snowy"], within(4), render, "a red fox", SDXL, follows={2: 1})
    assert kept == ["a red fox"]
