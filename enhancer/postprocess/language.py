"""The answer's one language: "latin" (English, Latin script) or "native" (the prompt's own
script other than Latin; Chinese where an English prompt is to be answered in Chinese for WAN).

The caller's system prompt decides when it asks for a language; otherwise the model's whole
clean answer decides when it is wholly in one language the target encoder reads (an English
answer to a Chinese prompt only where it shows the prompt's things); otherwise the prompt's
script, as before. Pure functions.
"""

from __future__ import annotations

import re

from ..detect import is_non_english, non_latin_runs
from ..subject import carries_subject_across

LATIN = "latin"
NATIVE = "native"

# What a system prompt says when it asks for one language. Small on purpose: a prompt that
# names both (or neither) leaves the choice to the answer.
_ASKS_ENGLISH = re.compile(
    r"\b(?:(?:in|into|to)\s+English|English\s+only|only\s+(?:in\s+)?English)\b|\u82f1\u6587|\u82f1\u8bed",
    re.I,
)
_ASKS_CHINESE = re.compile(
    r"\b(?:(?:in|into|to)\s+Chinese|Chinese\s+only|only\s+(?:in\s+)?Chinese)\b|\u4e2d\u6587|\u6c49\u8bed",
    re.I,
)

# "Almost all": the letters of the other script outside the user's own words may be this share
# of the answer's letters (one stray word, which the checks then repair).
_STRAY_SHARE = 0.03


def prompt_language(original: str) -> str:
    """The prompt's own script: what the answer was held to before the answer could decide."""
    return NATIVE if is_non_english(original) else LATIN


def resolve(language: str | None, original: str) -> str:
    """The language to hold an answer to: `language`, or the prompt's script when None."""
    return language or prompt_language(original)


def asked_language(system_prompt: str | None) -> str | None:
    """"latin" or "native" where the system prompt asks for English or Chinese (not both)."""
    if not system_prompt:
        return None
    english = bool(_ASKS_ENGLISH.search(system_prompt))
    chinese = bool(_ASKS_CHINESE.search(system_prompt))
    if english == chinese:
        return None
    return LATIN if english else NATIVE


def _shares(text: str, original: str) -> tuple[int, int, int]:
    """(letters, Latin letters, other-script letters), leaving out the user's own words in
    another script (a name or a word the user wrote is no sign of the answer's language)."""
    own = " ".join(non_latin_runs(original))
    runs = non_latin_runs(text)
    letters = sum(c.isalpha() for c in text)
    other = sum(sum(c.isalpha() for c in run) for run in runs)
    users = sum(sum(c.isalpha() for c in run) for run in runs if run in own)
    return letters - users, letters - other, other - users


def answer_language(cleaned: str, original: str, family: str, system_prompt: str | None) -> str:
    """The language the answer is held to (see the module doc).

    For SDXL (CLIP reads English only) an answer is never "native" unless the prompt is in
    another script; for WAN (umT5 reads Chinese and English) a Chinese system prompt makes it
    "native" for an English prompt too."""
    native_prompt = is_non_english(original)
    asked = asked_language(system_prompt)
    if asked == LATIN:
        return LATIN
    if asked == NATIVE and (native_prompt or family == "wan"):
        return NATIVE
    letters, latin, other = _shares(cleaned or "", original)
    if letters:
        # A wholly English answer to a Chinese prompt is the model's only where it shows the
        # prompt's things (`carries_subject_across`): a small model answers a prompt it could not
        # read with a story about something else.
        if other <= _STRAY_SHARE * letters and (not native_prompt or carries_subject_across(cleaned, original)):
            return LATIN
        if native_prompt and latin <= _STRAY_SHARE * letters:
            return NATIVE
    return prompt_language(original)


def in_language(piece: str, original: str, language: str | None = None) -> bool:
    """Whether a unit is written in the answer's one language.

    A "latin" answer: a unit with a word in another script ("a silk \u7a97\u5e18 at the window")
    fails, unless the word is the user's own. A "native" answer: a unit with letters but none
    of the other script (an English sentence in a Chinese answer) fails."""
    if resolve(language, original) == LATIN:
        own = " ".join(non_latin_runs(original))
        return all(run in own for run in non_latin_runs(piece))
    has_letters = any(c.isalpha() for c in piece)
    return not has_letters or bool(non_latin_runs(piece))


def cross_language(language: str | None, original: str) -> bool:
    """The answer is held to another language than the prompt's script: its words cannot be
    compared with the prompt's (`subject.carries_subject`)."""
    return resolve(language, original) != prompt_language(original)
