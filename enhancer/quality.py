"""Validation flags and a quality score for an enhanced prompt."""

from __future__ import annotations

import re
import unicodedata
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


# --------------------------------------------------------------------------------------------
# Defect detectors: what users complain about in enhanced prompts. Pure functions of the text
# (and of the user's prompt, where a word the user wrote must not count against the answer).
# --------------------------------------------------------------------------------------------

# People: nouns and pronouns that put a human in the picture. Words that are as often something
# else ("boxer" the dog, "fan" the device, "model" the object, "couple" of trees) are left out,
# so a hit is almost always a person.
_PERSON_WORDS = (
    "person persons people man men woman women girl girls boy boys child children kid kids baby "
    "babies toddler toddlers teen teens teenager teenagers lady ladies gentleman gentlemen guy guys "
    "someone somebody human humans crowd crowds family families he she him her his hers himself "
    "herself mother father mom dad son daughter brother sister wife husband bride groom friend "
    "friends player players athlete athletes dancer dancers rider riders cyclist cyclists driver "
    "drivers pilot pilots astronaut astronauts soldier soldiers worker workers farmer farmers chef "
    "chefs artist artists painter painters musician musicians singer singers performer performers "
    "photographer photographers tourist tourists visitor visitors pedestrian pedestrians passenger "
    "passengers shopper shoppers customer customers audience spectator spectators onlooker "
    "onlookers bystander bystanders jogger joggers runner runners skier skiers surfer surfers "
    "swimmer swimmers hiker hikers climber climbers traveler travelers traveller travellers actor "
    "actors actress actresses officer officers nurse nurses doctor doctors teacher teachers student "
    "students businessman businesswoman king queen prince princess knight knights warrior warriors "
    "wizard witch character characters protagonist heroine"
).split()
_PERSON = re.compile(r"(?<![\w'\u2019])(?:" + "|".join(_PERSON_WORDS) + r")(?![\w'\u2019])", re.I)
# Chinese and Japanese person characters (人 person, 女 woman, 男 man, 孩 child, 她/他 she/he).
_CJK_PERSON = re.compile("[\u4eba\u5973\u7537\u5b69\u5979\u4ed6\u5a03\u59d1\u5988\u7238]")


def mentions_person(text: str) -> bool:
    """Whether the text puts a person in the picture (by a person noun or pronoun)."""
    return bool(_PERSON.search(text or "") or _CJK_PERSON.search(text or ""))


def invents_person(answer: str, original: str) -> bool:
    """A person in the answer when the user's prompt had none (Wan's own extension did this to
    36% of person-free prompts)."""
    return mentions_person(answer) and not mentions_person(original)


# Meta talk: sentences about the user, the prompt, rewriting, or the image being made, and the
# chat register (I, you, here's, sure) that never belongs in a prompt for an image encoder.
_META = re.compile(
    r"(?<![\w'\u2019])(?:"
    r"users?(?:['\u2019]s)?|prompts?|rewr(?:ite|ites|itten|iting|ote)|rephras\w*|reword\w*|"
    r"paraphras\w*|sentences?|"
    r"here(?:['\u2019]s|\s+is|\s+are)|sensory\s+(?:language|details)|"
    r"descriptive\s+(?:version|language|text|way)|"
    r"(?:this|the|your|original|user['\u2019]s)\s+(?:idea|request|description|text|input|version)|"
    r"(?:image|picture|photo|photograph|video|scene|artwork)\s+(?:that\s+is\s+|is\s+|will\s+be\s+)?"
    r"(?:being|to\s+be)\s+(?:created|generated|made|rendered|produced)|"
    r"(?:create|generate|produce|design)\s+(?:a|an|the|this)\s+(?:\w+\s+)?"
    r"(?:image|picture|photo|video|prompt)|"
    r"(?:simple|easy|effective|great|good|best|better|quick)\s+(?:yet\s+\w+\s+)?ways?\s+to|"
    r"can\s+be\s+(?:rewritten|rephrased|described|enhanced|improved|expanded|transformed|turned)|"
    r"you|your|yours|you['\u2019](?:re|ll|ve|d)|let['\u2019]s|let\s+me|"
    r"sure|certainly|of\s+course|hope\s+(?:this|you|it|that)|feel\s+free|as\s+an\s+ai|sorry"
    r")(?![\w'\u2019])",
    re.I,
)
# First person, case-sensitive so that the letter "i" in a list or a roman numeral is not one.
_FIRST_PERSON = re.compile(r"(?<![\w'\u2019])(?:I|I['\u2019](?:m|ve|d|ll)|[Mm]e|[Mm]y|[Ww]e|[Ww]e['\u2019](?:re|ll|ve))(?![\w'\u2019])")
# Formatting a chat model adds: bold, headings, list markers, code fences, "Label:" at the start.
_MARKUP = re.compile(r"\*\*|__|```|^\s{0,3}#{1,6}\s|^\s*(?:[-*\u2022]|\d{1,2}[.)])\s+\S", re.M)


def _words_in(text: str) -> str:
    return " " + " ".join(re.findall(r"[\w'\u2019]+", text.lower())) + " "


def chatter_markers(text: str, original: str = "") -> list[str]:
    """The phrases that make a text talk about the task instead of describing the picture.

    A phrase the user wrote in the prompt does not count: a sign that says "I love you" is
    the user's subject, not chatter."""
    found = [m.group() for m in _META.finditer(text or "")]
    found += [m.group() for m in _FIRST_PERSON.finditer(text or "")]
    mine = _words_in(original or "")
    return [f for f in found if _words_in(f) not in mine]


def has_chatter(text: str, original: str = "") -> bool:
    """Meta talk, chat register or Markdown in a text that should be a prompt only."""
    return bool(chatter_markers(text, original) or _MARKUP.search(text or ""))


_REPEAT_SPLIT = {
    "sdxl": re.compile(r"[,;\n]|(?<=[.!?])\s+"),
    "wan": re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s*|\n"),
}
_LOOP = re.compile(r"(?<!\w)(\w+)(?:[\s,]+\1(?!\w)){2,}", re.I)


def repeated_parts(text: str, family: str) -> list[str]:
    """Tags (SDXL) or sentences (WAN) that occur more than once, compared by their words, plus
    a word repeated three times in a row ("very very very"), the shape of a generation loop."""
    seen: set[str] = set()
    repeats: list[str] = []
    for part in _REPEAT_SPLIT[family].split(text or ""):
        key = " ".join(re.findall(r"\w+", part.lower()))
        if not key:
            continue
        if key in seen:
            repeats.append(part.strip())
        seen.add(key)
    repeats += [m.group() for m in _LOOP.finditer(text or "")]
    return repeats


def has_repetition(text: str, family: str) -> bool:
    return bool(repeated_parts(text, family))


def _non_latin_runs(text: str) -> list[str]:
    """Runs of letters from scripts other than Latin (CJK, Cyrillic, Arabic, ...); a space
    between two such letters stays in the run, so a Cyrillic phrase is one run."""
    runs: list[str] = []
    current = ""
    gap = ""
    for char in text or "":
        if (char.isalpha() or unicodedata.category(char) == "Mn") and not _is_latin(char):
            current += gap + char if current else char
            gap = ""
        elif current and char == " ":
            gap += char
        else:
            if current:
                runs.append(current)
            current, gap = "", ""
    if current:
        runs.append(current)
    return runs


@lru_cache(maxsize=8192)
def _is_latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


def is_non_english(text: str) -> bool:
    """Written mostly in a script other than Latin. Latin-script languages (French, German...)
    are not told apart from English: that would take a language model, and none is assumed."""
    letters = [c for c in text or "" if c.isalpha()]
    if not letters:
        return False
    return sum(not _is_latin(c) for c in letters) / len(letters) > 0.3


def language_ok(answer: str, original: str) -> bool:
    """English input gets an answer in Latin script only (no Chinese answer to English input).

    Non-English input gets an answer whose own words are English and which still holds the
    user's non-Latin text verbatim: the meaning is kept by keeping the user's words, not by
    trusting a small model's translation."""
    answer = answer or ""
    if not is_non_english(original):
        return not _non_latin_runs(answer)
    added = answer
    for run in _non_latin_runs(original):
        if run not in added:
            return False
        added = added.replace(run, " ")
    return not _non_latin_runs(added) and any(c.isalpha() for c in added)
