"""Turn a model's answer into a prompt the target encoder takes whole.

`clean` (clean.py) removes what a chatty model wraps around its answer; `optimize` then trusts
the answer and repairs only what a check (checks.py) finds broken, for SDXL (sdxl.py) or WAN
(wan.py), adding stock phrases (stock.py) only for what is missing. All are pure functions.
"""

from __future__ import annotations

from ..profiles import Profile
from ..tokens import TokenCounter
from .clean import clean, is_unusable
from .fit import Drop
from .language import answer_language
from .sdxl import optimize_sdxl
from .wan import optimize_wan

__all__ = ["Drop", "answer_language", "clean", "is_unusable", "optimize"]


def optimize(text: str, original: str, profile: Profile, counter: TokenCounter, rules: bool = False,
             drops: list[Drop] | None = None, language: str | None = None) -> str:
    """The prompt the target encoder should receive, within `profile.budget` tokens of `counter`.

    `rules`: the text is the rules' draft, not a model's answer: stock phrases fill every
    required element it lacks (a model's answer gets them only where a check repaired it).
    `drops`: where to record each unit of the text that the prompt does not hold, and why.
    `language`: the answer's one language, "latin" or "native" (`language.answer_language`);
    None: the prompt's script."""
    if profile.family == "sdxl":
        step = optimize_sdxl
    elif profile.family == "wan":
        step = optimize_wan
    else:
        raise ValueError(f"unknown profile family {profile.family!r}")
    out = step(text or "", original or "", profile, counter, rules, drops, language)
    # Each step is written to reproduce its own output; re-running until nothing changes makes
    # that a guarantee where the heuristics (subject matching, greedy packing) could interact.
    for _ in range(3):
        again = step(out, original or "", profile, counter, rules, None, language)
        if again == out:
            break
        out = again
    return out
