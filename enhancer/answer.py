"""After generation: the model's raw text -> clean -> optimize -> the rules where nothing usable
is left. The one path a live job and `python -m enhancer.eval --replay` share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .detect import without_stock
from .fallback import emergency_enhance
from .postprocess import (
    Drop,
    KeptTerm,
    answer_language,
    clean,
    is_unusable,
    kept_terms,
    optimize,
    without_network_tags,
)
from .postprocess.language import cross_language
from .profiles import QUALITY_TAGS, Profile
from .subject import content_words, stem
from .tokens import TokenCounter

_QUALITY_WORDS = frozenset(stem(w) for k in QUALITY_TAGS.keywords for w in content_words(k))


@dataclass(frozen=True)
class Answer:
    text: str
    from_model: bool  # False: the rules wrote it (enhancement_source emergency_fallback)
    cleaned: str | None = None  # the model's answer after `clean` (None: no model answer)
    drops: tuple[Drop, ...] = ()  # units of the cleaned answer that the prompt does not hold
    # The model's answer is held to another language than the prompt's script (a Chinese prompt
    # answered in English): its subject cannot be compared word for word with the prompt's.
    cross_language: bool = False
    kept: tuple[KeptTerm, ...] = ()  # the terms the text holds verbatim (`postprocess.keep`)


def _own_words(text: str) -> frozenset[str]:
    return frozenset(stem(w) for w in content_words(without_stock(without_network_tags(text)))) - _QUALITY_WORDS


def carries_model_text(text: str, cleaned: str, original: str) -> bool:
    """The text holds a word of the model's own beyond the prompt's words, the worker's stock
    phrases and quality tags: otherwise it is the rules' answer, whoever is named on it."""
    return bool((_own_words(text) & _own_words(cleaned)) - _own_words(original))


def finish(raw: str | None, original: str, profile: Profile, counter: TokenCounter,
           system_prompt: str | None = None, keep_terms: Sequence[str] = ()) -> Answer:
    """The prompt to return for a model's raw answer (None: no model answered). `system_prompt`:
    the caller's (None: the built-in one), which may ask for the answer's language; `keep_terms`:
    the caller's terms to hold verbatim, beside those the prompt holds (`postprocess.keep`).
    Raises `postprocess.TermsDoNotFit` when they cannot all fit."""
    kept = kept_terms(original, keep_terms)
    rules = emergency_enhance(original, profile, counter, kept)
    if raw is None:
        return Answer(rules, False, kept=kept)
    words = without_network_tags(original)
    cleaned = clean(raw, words)
    if is_unusable(cleaned, words):
        return Answer(rules, False, cleaned, kept=kept)
    drops: list[Drop] = []
    language = answer_language(cleaned, words, profile.family, system_prompt)
    text = optimize(cleaned, original, profile, counter, drops=drops, language=language, keep=kept)
    # When nothing the model wrote survived, the answer is the rules' own: say so, rather than
    # credit the model with the user's words and stock phrases.
    if not carries_model_text(text, cleaned, words):
        return Answer(rules, False, cleaned, tuple(drops), kept=kept)
    return Answer(text, True, cleaned, tuple(drops), cross_language(language, words), kept)
