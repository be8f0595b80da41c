"""Emergency enhancement by rules, for when there is no model answer to use."""

from __future__ import annotations

from typing import Sequence

from .postprocess import KeptTerm, optimize
from .profiles import Profile
from .tokens import TokenCounter


def emergency_enhance(original: str, profile: Profile, counter: TokenCounter, keep: Sequence[KeptTerm] = ()) -> str:
    """The user's words with the profile's stock phrases for every element they lack, within
    budget (see `postprocess.stock`: none that would contradict the prompt, and in its language).

    Deterministic and model-free: the same input always gives the same prompt, and the only
    costly step is counting tokens inside `optimize`.
    """
    return optimize(" ".join((original or "").split()), original, profile, counter, rules=True, keep=keep)
