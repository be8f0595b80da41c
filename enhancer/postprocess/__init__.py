"""Turn a model's answer into a prompt the target encoder takes whole.

`clean` (clean.py) removes what a chatty model wraps around its answer; `optimize` then trusts
the answer and repairs only what a check (checks.py) finds broken, for SDXL (sdxl.py) or WAN
(wan.py), adding stock phrases (stock.py) only for what is missing. All are pure functions.
"""

from __future__ import annotations

from typing import Sequence

from ..profiles import Profile
from ..tokens import TokenCounter
from .clean import clean, is_unusable
from .fit import Drop
from .keep import KeptTerm, kept_terms, restore_all, without_network_tags
from .language import answer_language
from .sdxl import optimize_sdxl
from .wan import optimize_wan

__all__ = ["Drop", "KeptTerm", "TermsDoNotFit", "answer_language", "clean", "is_unusable", "kept_terms", "optimize",
           "without_network_tags"]


class TermsDoNotFit(ValueError):
    """The kept terms cannot all be in a prompt within the profile's budget."""


def optimize(text: str, original: str, profile: Profile, counter: TokenCounter, rules: bool = False,
             drops: list[Drop] | None = None, language: str | None = None,
             keep: Sequence[KeptTerm] = ()) -> str:
    """The prompt the target encoder should receive, within `profile.budget` tokens of `counter`.

    `rules`: the text is the rules' draft, not a model's answer: stock phrases fill every
    required element it lacks (a model's answer gets them only where a check repaired it).
    `drops`: where to record each unit of the text that the prompt does not hold, and why.
    `language`: the answer's one language, "latin" or "native" (`language.answer_language`);
    None: the prompt's script. `keep`: the terms the prompt must hold verbatim (`keep.py`), put
    back where the model altered them; TermsDoNotFit when they cannot all be held."""
    if profile.family == "sdxl":
        step = optimize_sdxl
    elif profile.family == "wan":
        step = optimize_wan
    else:
        raise ValueError(f"unknown profile family {profile.family!r}")
    original = without_network_tags(original or "")  # a network tag is no word of the picture
    out = step(restore_all(text or "", keep), original, profile, counter, rules, drops, language, keep)
    # Each step is written to reproduce its own output; re-running until nothing changes makes
    # that a guarantee where the heuristics (subject matching, greedy packing) could interact.
    # A kept term that a check took out with its unit is placed again by the next pass.
    for _ in range(3):
        again = step(out, original, profile, counter, rules, None, language, keep)
        if again == out:
            break
        out = again
    if any(t.text not in out for t in keep):
        out = step(out, original, profile, counter, rules, None, language, keep, force=True)
    lacking = [t.text for t in keep if t.text not in out]
    if lacking or (keep and counter.count(out) > profile.budget):
        terms = lacking or [t.text for t in keep]
        raise TermsDoNotFit(f"{', '.join(map(repr, terms))} cannot be held within {profile.budget} tokens")
    return out
