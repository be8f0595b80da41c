"""What users complain about in enhanced prompts (chatter, an invented person, repetition, the
wrong language), detected by pure functions: shared by the repairs (`postprocess`) and the score
(`quality`)."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from functools import lru_cache

from .profiles import STOCK_PHRASES
from .subject import asks_for_person, mentions_person, stems


def without_stock(text: str) -> str:
    """The text without the phrases the worker adds itself: what the answer says on its own."""
    for phrase in STOCK_PHRASES:
        text = text.replace(phrase, " ")
    return text


def defects(text: str, original: str, family: str) -> tuple[str, ...]:
    """The defects users complain about that a text has, by name (see the detectors below)."""
    found = []
    if has_chatter(text, original):
        found.append("chatter")
    if invents_person(text, original):
        found.append("invented_person")
    if has_repetition(text, family):
        found.append("repetition")
    if not language_ok(text, original, family):
        found.append("language")
    return tuple(found)


# --------------------------------------------------------------------------------------------
# Defect detectors: what users complain about in enhanced prompts. Pure functions of the text
# (and of the user's prompt, where a word the user wrote must not count against the answer).
# --------------------------------------------------------------------------------------------

def invents_person(answer: str, original: str) -> bool:
    """A person in the answer when the user's prompt had none (Wan's own extension did this to
    36% of person-free prompts)."""
    return mentions_person(answer) and not asks_for_person(original)


# Meta talk: sentences about the user, the prompt, rewriting, or the image being made, and the
# chat register (you, here's, hope this helps) that never belongs in a prompt for an encoder.
# Each alternative is a phrase that describes the task or the conversation, not the picture.
_META = re.compile(
    r"(?<![\w'\u2019])(?:"
    r"users?(?:['\u2019]s)?|prompts?|rewr(?:ite|ites|itten|iting|ote)|rephras\w*|reword\w*|"
    r"paraphras\w*|revis(?:e|ed|ion|ions)|sentences?|storytelling|creative\s+writing|"
    r"here(?:['\u2019]s|\s+is|\s+are)|sensory\s+(?:language|details?)|"
    r"descriptive\s+(?:version|language|text|way)|"
    r"(?:this|the|your|my|user['\u2019]s)\s+(?:idea|request|description|input|version)|"
    r"original\s+(?:idea|request|description|input|version|text|prompt|image|video|photo|picture|design)|"
    r"(?:image|picture|photo|photograph|video|scene|artwork)\s+(?:that\s+is\s+|is\s+|will\s+be\s+)?"
    r"(?:being|to\s+be)\s+(?:created|generated|made|rendered|produced)|"
    r"(?:create|generate|produce|design)\s+(?:a|an|the|this)\s+(?:\w+\s+)?"
    r"(?:image|picture|photo|video|prompt)|"
    r"(?:simple|easy|effective|great|good|best|better|quick)\s+(?:yet\s+\w+\s+)?ways?\s+to|"
    r"(?:great|good|perfect|stunning|fine|classic|prime|wonderful)\s+example\s+of|"
    r"can\s+be\s+(?:rewritten|rephrased|described|enhanced|improved|expanded|transformed|turned|used|done)|"
    r"(?:image|picture|photo|photograph|video|artwork|scene|it)\s+(?:was|is|were|has\s+been|had\s+been)\s+"
    r"(?:\w+\s+)?(?:created|made|generated|taken|produced|designed|shot|inspired|crafted|reimagined|"
    r"recreated|featured)(?:\s+(?:by|using|with|from|to|into|in))?|"
    r"(?:image|picture|photo|video)\s+(?:above|below)|example\s+of\s+(?:this|how)|this\s+means|"
    r"(?:could|can|would|might)\s+be\s+(?:made|added|used|achieved|found|recreated|created|done)|"
    r"more\s+detailed\s+version|"
    r"(?:took|take|takes|taking)\s+(?:\w+\s+){0,2}(?:pictures|photos|photographs)|perfect\s+for|"
    r"will\s+help|"
    r"you|your|yours|you['\u2019](?:re|ll|ve|d)|let['\u2019]s|let\s+me|"
    r"hope\s+(?:this|you|it|that)|feel\s+free|as\s+an\s+ai|sorry"
    r")(?![\w'\u2019])",
    re.I,
)
# Assent words are chatter only where they open a sentence ("Sure! ..."), not in "making sure".
_ASSENT = re.compile(
    r"(?:^|[.!?\n]\s*)((?:sure|certainly|of\s+course|absolutely|okay)(?:\s+thing)?)(?=\s*[!,.:])", re.I
)
# First person, case-sensitive so that a lowercase "i" in a list is not one.
# A capital "I" counts when a verb-like word follows it ("I created"), not as a numeral
# ("Episode I of the saga", "World War I").
_FIRST_PERSON = re.compile(
    r"(?<![\w'\u2019])(?:I(?=\s+(?!(?:of|and|or|in|to|the|a|an|on|at|by|for)\b)[a-z])|"
    r"I['\u2019](?:m|ve|d|ll)|[Mm]e|[Mm]y|[Ww]e|[Ww]e['\u2019](?:re|ll|ve))(?![\w'\u2019])"
)
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
    found += [m.group(1) for m in _ASSENT.finditer(text or "")]
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
_OPENING_WORDS = 3
_OPENING_LIMIT = 2
_NEAR_DUPLICATE = 0.7


def _opening(sentence: str) -> tuple[str, ...]:
    words = re.findall(r"[\w'\u2019]+", sentence.lower())
    return tuple(words[:_OPENING_WORDS]) if len(words) > _OPENING_WORDS else ()


def _restates(words: frozenset[str], other: frozenset[str]) -> bool:
    if len(words | other) < 2:
        return words == other
    shared, union = len(words & other), len(words | other)
    # 70% of the words shared, or all but one of them when the sentences are short.
    return shared / union >= _NEAR_DUPLICATE or (shared >= 2 and union - shared <= 1)


def redundant_sentences(sentences: list[str], keep: frozenset[int] = frozenset(),
                        restatements: bool = True) -> list[int]:
    """Indices of sentences that only say again what an earlier kept sentence said.

    A sentence is redundant when its content words overlap an earlier one's by 70% or more
    (Jaccard, on stems; only with `restatements`, which tags leave off: "a cat on a red sofa"
    after "a cat on a sofa" adds a detail), or when it is the third to open with the same three
    words: the "They're going to jump. They're going to win. They're going to celebrate." shape
    of a small model stuck in a loop. Judged against kept sentences only, so dropping the redundant ones
    leaves none: applying it twice changes nothing. Sentences at the `keep` indices (the user's
    own) are never redundant, but later ones are compared with them."""
    kept: list[frozenset[str]] = []
    openings: Counter[tuple[str, ...]] = Counter()
    redundant: list[int] = []
    for i, sentence in enumerate(sentences):
        words = stems(sentence)
        key = " ".join(re.findall(r"\w+", sentence.lower()))
        opening = _opening(sentence)
        near = restatements and bool(key) and any(_restates(words, other) for other in kept)
        if i not in keep and (near or (opening and openings[opening] >= _OPENING_LIMIT)):
            redundant.append(i)
            continue
        kept.append(words)
        if opening:
            openings[opening] += 1
    return redundant


def repeated_parts(text: str, family: str) -> list[str]:
    """What repeats: a tag (SDXL) or sentence (WAN) that occurs twice, compared by its words; a
    third one opening with the same three words, and for WAN a sentence that restates an earlier
    one (see `redundant_sentences`); and a word said three times in a row ("very very very")."""
    parts = [p.strip() for p in _REPEAT_SPLIT[family].split(text or "") if p and re.search(r"\w", p)]
    repeats: list[str] = []
    seen: set[str] = set()
    for part in parts:
        key = " ".join(re.findall(r"\w+", part.lower()))
        if key in seen:
            repeats.append(part)
        seen.add(key)
    repeats += [parts[i] for i in redundant_sentences(parts, restatements=family == "wan")
                if parts[i] not in repeats]
    repeats += [m.group() for m in _LOOP.finditer(text or "")]
    return repeats


def has_repetition(text: str, family: str) -> bool:
    return bool(repeated_parts(text, family))


def non_latin_runs(text: str) -> list[str]:
    """Runs of letters from scripts other than Latin (CJK, Cyrillic, Arabic, ...); a space
    between two such letters stays in the run, so a Cyrillic phrase is one run."""
    runs: list[str] = []
    current = ""
    gap = ""
    for char in text or "":
        if char.isalpha() and not _is_latin(char):
            current += gap + char if current else char
            gap = ""
        elif current and not gap and unicodedata.category(char) == "Mn":
            # A combining mark continues a run (Devanagari vowel signs); alone it starts none,
            # so the variation selector after an emoji ("\u2600\ufe0f") is not a script.
            current += char
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


@lru_cache(maxsize=4096)
def is_non_english(text: str) -> bool:
    """Written mostly in a script other than Latin. Latin-script languages (French, German...)
    are not told apart from English: that would take a language model, and none is assumed."""
    letters = [c for c in text or "" if c.isalpha()]
    if not letters:
        return False
    return sum(not _is_latin(c) for c in letters) / len(letters) > 0.3


_LATIN_WORD = re.compile(r"[a-zA-Z]+")
_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s*")


def language_ok(answer: str, original: str, family: str = "sdxl") -> bool:
    """One language per answer.

    English input gets an answer in Latin script only (no Chinese word in an English answer).
    For WAN, input in another script gets its answer in that script: no sentence of English
    beside it (WAN's umT5 encoder reads Chinese, and a mix is what users complain of). For
    SDXL, whose CLIP encoder reads English only, it gets English words around the user's own
    text kept verbatim: the meaning is kept by keeping the user's words, not by trusting a
    small model's translation. A wholly English answer to a prompt in another script is one
    language too (an English system prompt asks for it, and both encoders read it)."""
    answer = answer or ""
    if not is_non_english(original):
        return not non_latin_runs(answer)
    if not non_latin_runs(answer):
        return any(c.isalpha() for c in answer)
    if family == "wan":
        units = [u for u in _SENTENCE_END.split(answer) if u.strip()]
        latin_only = [u for u in units if not non_latin_runs(u) and len(_LATIN_WORD.findall(u)) >= 2]
        return bool(non_latin_runs(answer)) and not latin_only
    added = answer
    for run in non_latin_runs(original):
        if run not in added:
            return False
        added = added.replace(run, " ")
    return not non_latin_runs(added) and any(c.isalpha() for c in added)
