"""Validation flags and a quality score for an enhanced prompt."""

from __future__ import annotations

from dataclasses import dataclass, field

from .detect import defects, without_stock
from .profiles import (
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
from .postprocess.text import sentences, split_tags
from .subject import in_order, subject_coverage, word_forms
from .tokens import TokenCounter

# Weights of the score; they sum to 1.
_W_ELEMENTS = 0.4
_W_BUDGET = 0.3
_W_SUBJECT = 0.3
# Each defect a user would complain about (chatter, an invented person, repetition, the wrong
# language) takes this share off the score: one defect costs a quarter, four leave nothing.
_DEFECT_PENALTY = 0.25


@dataclass(frozen=True)
class Assessment:
    score: float
    flags: dict = field(default_factory=dict)
    defects: tuple[str, ...] = ()


def _budget_fit(tokens: int, own_tokens: int, profile: Profile) -> float:
    """0 over the budget (all of the text counts: the encoder cuts it); below it, credit for
    what the answer says by itself, up to `target_min`."""
    if tokens == 0 or tokens > profile.budget:
        return 0.0
    return min(1.0, own_tokens / profile.target_min)


def said_once(own: str, family: str) -> str:
    """The text without the units (SDXL tags, WAN sentences) that another, longer unit of it says
    in full and in their order: "A cow." beside "A large, brown and white cow" says nothing new,
    so a restated prompt fills no more of the budget's credit than a stock phrase does."""
    units = split_tags(own) if family == "sdxl" else sentences(own)
    forms = [word_forms(u) for u in units]
    return ", ".join(u for u, wanted in zip(units, forms)
                     if not any(len(said) > len(wanted) and in_order(wanted, said) for said in forms))


def assess(text: str, original: str, profile: Profile, counter: TokenCounter) -> Assessment:
    """Flags for the response and a score in 0..1 of how well the prompt suits its target model.

    The score is what the worker can check without looking at images. A weighted mix of three
    things:

    - 0.4 x the fraction of the profile's required elements the answer mentions by itself,
      stock phrases the worker appended left out (for SDXL lighting and technical terms, plus
      camera and resolution for sdxl_high; quality tags are the worker's own on every answer;
      for WAN motion, camera work, temporal consistency, plus cinematic quality for wan_high);
    - 0.3 x budget fit: 0 over the profile's token budget (the encoder would cut it); below it,
      the tokens of what the answer says by itself (stock phrases out, and a unit another one
      says in full out: `said_once`) against `profile.target_min`, full credit from there (a
      prompt far under it leaves the model guessing), so padding earns nothing;
    - 0.3 x subject kept: the fraction of the original prompt's content words the answer
      carries by itself (a word, one of its group, or a kind of it; see `subject`);

    then multiplied by 1 - 0.25 x the number of defects found (`defects`): chatter (talk about
    the task, chat register, Markdown), a person the prompt did not have, a repeated tag or
    sentence, and the wrong language (script other than the prompt's, or a non-English prompt's
    own words lost). So 1.0 means: everything the target model wants, within its budget, the
    user's words kept, and none of the faults users report; a model's raw answer (chatty, over
    budget, without quality tags) scores well below the worker's final one (see
    `python -m enhancer.eval`).

    It is rounded to three places. The flags are the response's `sdxl_optimizations` or
    `wan_optimizations`, with `token_count` measured by the profile's counter.
    """
    tokens = counter.count(text)
    if profile.family == "sdxl":
        flags = {
            "has_quality_tags": QUALITY_TAGS.present_in(text),
            "has_lighting": LIGHTING.present_in(text),
            "has_technical_terms": TECHNICAL.present_in(text),
            "has_resolution": RESOLUTION.present_in(text),
            "token_count": tokens,
        }
    else:
        flags = {
            "has_motion": MOTION.present_in(text),
            "has_cinematography": CINEMATOGRAPHY.present_in(text),
            "has_temporal": TEMPORAL.present_in(text),
            "has_quality": VIDEO_QUALITY.present_in(text),
            "token_count": tokens,
        }
    if not text.strip():
        return Assessment(0.0, flags)
    # Only what the answer says by itself earns the elements' share: a stock phrase appended by
    # the worker must not raise the score, and the quality tags every SDXL answer gets from the
    # worker tell no two answers apart.
    own = without_stock(text)
    required = [e for e in profile.required if e is not QUALITY_TAGS]
    elements = sum(e.present_in(own) for e in required) / len(required) if required else 1.0
    score = (
        _W_ELEMENTS * elements
        # min: the units joined again may count a token or two more than the text did.
        + _W_BUDGET * _budget_fit(tokens, min(tokens, counter.count(said_once(own, profile.family))), profile)
        + _W_SUBJECT * subject_coverage(own, original)
    )
    found = defects(text, original, profile.family)
    score *= max(0.0, 1.0 - _DEFECT_PENALTY * len(found))
    return Assessment(round(min(1.0, max(0.0, score)), 3), flags, found)
