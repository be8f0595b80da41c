"""Emergency enhancement by rules, for when there is no model answer to use."""

from __future__ import annotations

from .postprocess import optimize
from .profiles import (
    CAMERA,
    CINEMATOGRAPHY,
    LIGHTING,
    MOTION,
    QUALITY_TAGS,
    RESOLUTION,
    TECHNICAL,
    TEMPORAL,
    VIDEO_QUALITY,
    Profile,
)
from .tokens import TokenCounter

# wan_high asks for layered motion; the single-subject default sentence does not give it.
_LAYERED_MOTION = "Secondary details in the scene move subtly, adding depth and layered motion."


def emergency_enhance(original: str, profile: Profile, counter: TokenCounter) -> str:
    """A prompt built from the user's words and the profile's defaults, within budget.

    Deterministic and model-free: the same input always gives the same prompt, and the only
    costly step is counting tokens inside `optimize`.
    """
    subject = " ".join((original or "").split())
    if profile.family == "sdxl":
        parts = [QUALITY_TAGS.default, subject, LIGHTING.default, TECHNICAL.default]
        if profile.tier == "high":
            parts += [CAMERA.default, RESOLUTION.default]
        draft = ", ".join(p for p in parts if p)
    else:
        # One sentence a line: optimize reads a line end as a sentence end, so the user's words
        # get their own sentence whatever punctuation they came with.
        parts = [subject, MOTION.default, CINEMATOGRAPHY.default, TEMPORAL.default]
        if profile.tier == "high":
            parts += [VIDEO_QUALITY.default, _LAYERED_MOTION]
        draft = "\n".join(p for p in parts if p)
    return optimize(draft, original, profile, counter)
