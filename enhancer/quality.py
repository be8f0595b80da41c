"""Validation flags and a quality score for an enhanced prompt."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

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
from .tokens import TokenCounter

# Hiragana, katakana, CJK ideographs (with extension A and compatibility) and Hangul: scripts
# written without spaces, where a "word" is the whole run.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{_CJK}]+")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")

# Small on purpose: only words that say nothing about what is in the picture.
_STOPWORDS = frozenset(
    "a an the of in on at to for by with from and or but as is are was were be been being it its "
    "this that these those into onto over very some any".split()
)

# Weights of the score; they sum to 1.
_W_ELEMENTS = 0.4
_W_BUDGET = 0.3
_W_SUBJECT = 0.3


def content_words(text: str) -> list[str]:
    """The words that carry meaning, lowercased, in order; CJK text gives its runs of characters."""
    words: list[str] = []
    position = 0
    # CJK runs are taken whole and the text between them is split into ordinary words, so a
    # mixed string like "a cat 猫" yields both.
    for match in _CJK_RUN.finditer(text):
        words.extend(_latin_words(text[position:match.start()]))
        words.append(match.group())
        position = match.end()
    words.extend(_latin_words(text[position:]))
    return words


def _latin_words(text: str) -> list[str]:
    return [w for w in (m.group().lower() for m in _WORD.finditer(text)) if w not in _STOPWORDS]


@lru_cache(maxsize=4096)
def _stem(word: str) -> str:
    # Just enough stemming that "cats" keeps "cat" and "running" keeps "run": the check is
    # whether the subject survived a rewrite, not linguistics.
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


def stems(text: str) -> set[str]:
    """Stems of the content words of a text, for subject matching."""
    return {_stem(w) for w in content_words(text)}


def subject_coverage(text: str, original: str) -> float:
    """Fraction of the original's content words that the text still contains (1.0 if it has none)."""
    wanted = content_words(original)
    if not wanted:
        return 1.0
    have = stems(text)
    lowered = text.lower()
    kept = 0
    for word in wanted:
        if _CJK_RUN.fullmatch(word):
            kept += word in lowered
        else:
            kept += _stem(word) in have
    return kept / len(wanted)


@dataclass(frozen=True)
class Assessment:
    score: float
    flags: dict = field(default_factory=dict)


def _budget_fit(tokens: int, profile: Profile) -> float:
    if tokens == 0 or tokens > profile.budget:
        return 0.0
    if tokens >= profile.target_min:
        return 1.0
    return tokens / profile.target_min


def assess(text: str, original: str, profile: Profile, counter: TokenCounter) -> Assessment:
    """Flags for the response and a score in 0..1 of how well the prompt suits its target model.

    The score is a weighted mix of three things the worker can check without looking at images:

    - 0.4 x the fraction of the profile's required elements present (for SDXL quality tags,
      lighting, technical terms, plus camera and resolution for sdxl_high; for WAN motion, camera
      work, temporal consistency, plus cinematic quality for wan_high);
    - 0.3 x budget fit: 0 over the profile's token budget (the encoder would cut it), 1 from
      `profile.target_min` up to the budget, and proportional credit below `target_min` (a prompt
      far under it leaves the model guessing);
    - 0.3 x subject kept: the fraction of the original prompt's content words still present.

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
    required = profile.required
    elements = sum(e.present_in(text) for e in required) / len(required) if required else 1.0
    score = (
        _W_ELEMENTS * elements
        + _W_BUDGET * _budget_fit(tokens, profile)
        + _W_SUBJECT * subject_coverage(text, original)
    )
    return Assessment(round(min(1.0, max(0.0, score)), 3), flags)
