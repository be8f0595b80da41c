"""After generation: the model's raw text -> clean -> optimize -> the rules where nothing usable
is left. The one path a live job and `python -m enhancer.eval --replay` share."""

from __future__ import annotations

from dataclasses import dataclass

from .fallback import emergency_enhance
from .postprocess import clean, is_unusable, optimize
from .profiles import Profile
from .tokens import TokenCounter


@dataclass(frozen=True)
class Answer:
    text: str
    from_model: bool  # False: the rules wrote it (enhancement_source emergency_fallback)


def finish(raw: str | None, original: str, profile: Profile, counter: TokenCounter) -> Answer:
    """The prompt to return for a model's raw answer (None: no model answered)."""
    rules = emergency_enhance(original, profile, counter)
    if raw is not None:
        cleaned = clean(raw, original)
        if not is_unusable(cleaned, original):
            text = optimize(cleaned, original, profile, counter)
            # When nothing the model wrote survived the cleanup, the answer is the rules' own:
            # say so, rather than credit the model with it.
            if text != rules:
                return Answer(text, True)
    return Answer(rules, False)
