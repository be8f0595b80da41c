"""Verify: the checks that decide what of a model's answer must be repaired.

Each is a pure function of a unit of text (a tag or a sentence) and the user's prompt. A unit
that fails one is dropped whole; nothing here rewrites text.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..detect import is_non_english, non_latin_runs, redundant_sentences
from ..subject import asks_for_person, carries_subject, content_words, invents_animal, mentions_person
from .text import norm_key, sentences, structure

# What a camera cannot see: wishes, plans, thoughts, the future, the meaning of the scene, and
# the senses other than sight. A prompt describes what is in the frame; these sentences only
# spend the budget (and a small model writes them by the paragraph: "They're going to win.
# This is a creative way to express joy. Every breath is a precious gift.").
_UNSEEN = re.compile(
    r"(?<![\w'\u2019])(?:"
    r"loves?|loved|likes|liked|enjoy(?:s|ed|ing)?|wants?|wanted|hopes?|hoped|dreams?\s+(?:of|about)|"
    r"believes?|believed|knows?|knew|thinks?|thought|remembers?|remembered|wonders?|wondered|"
    r"decides?|decided|plans?\s+to|planning|"
    r"(?:is|are|am|was|were|\w+['\u2019](?:re|s|m))\s+going\s+to|tomorrow|next\s+(?:project|time|day|week)|"
    r"project|task|importance\s+of|testament\s+to|symbol\s+of|metaphor|reminder\s+of|"
    r"inspir(?:e|es|ed|ing|ation)|the\s+goal|aims?\s+to|for\s+(?:many\s+|several\s+)?(?:years|decades)|"
    r"years\s+ago|"
    r"precious\s+gift|memory|memories|in\s+(?:their|his|her|our|the)\s+(?:hearts?|minds?)|"
    r"(?:way|tool)\s+(?:for|to)\s+(?:express|convey|tell|share|inspire)\w*|"
    r"sounds?|soundscapes?|smells?|scents?|aromas?|tastes?|noises?|"
    # A pronoun with a modal or a plan: "They need to choose...", "You might consider..."
    r"(?:they|he|she|you|we|i|it)\s+(?:need|needs|might|could|should|would|may|must|propose|proposes)"
    r")(?![\w'\u2019])",
    re.I,
)


@lru_cache(maxsize=4096)
def _spaced_words(text: str) -> str:
    return " " + " ".join(re.findall(r"[\w'\u2019]+", text.lower())) + " "


def unseen(piece: str, original: str) -> bool:
    """Whether a piece talks about what a camera cannot see, in words the user did not use."""
    return any(_spaced_words(m.group()) not in _spaced_words(original) for m in _UNSEEN.finditer(piece))


def off_picture(piece: str, original: str) -> bool:
    """A tag or sentence of the model's that would change or pad the picture the user asked for.

    Prompt extenders are known to add people: Wan 2.1's own extension put a person into 36% of
    person-free prompts, and a small model gives the user's dog "his friends at the park" or
    swaps it for "a giant panda". Where the prompt has no person, a piece that adds one goes;
    so does a piece about an animal that is neither the prompt's nor a kind of it, and one
    about what cannot be seen (`unseen`)."""
    if mentions_person(piece) and not asks_for_person(original):
        return True
    return invents_animal(_opening(piece), original) or unseen(piece, original)


_SUBJECT_WORDS = 5


def _opening(piece: str) -> str:
    """What a unit is about: a tag whole, a sentence's first words. A sentence that opens on a
    new animal ("A cute puppy is perched on the handlebars") changes the picture; one that
    names fish in passing behind the user's turtle sets its scene."""
    words = piece.split()
    return piece if len(words) <= 2 * _SUBJECT_WORDS else " ".join(words[:_SUBJECT_WORDS])


def in_language(piece: str, original: str) -> bool:
    """Whether a unit is written in the answer's one language.

    An English prompt gets an English answer: a unit with a word in another script ("a silk
    窗帘 at the window") fails, unless the word is the user's own. A prompt in another script
    gets its answer in that language: a unit with letters but none of that script (an English
    sentence in a Chinese answer) fails."""
    if not is_non_english(original):
        own = " ".join(non_latin_runs(original))
        return all(run in own for run in non_latin_runs(piece))
    has_letters = any(c.isalpha() for c in piece)
    return not has_letters or bool(non_latin_runs(piece))


_QUOTES = "\"'\u201c\u201d\u2018\u2019"


def _said_exactly(span: str, text: str) -> bool:
    """A weighted group or a quotation of the user's is in the text word for word. A quotation
    may come back in other quote marks ("'OPEN'" and "\u201cOPEN\u201d" are the same sign)."""
    span = " ".join(span.split())
    if span[0] not in _QUOTES:
        return span in text
    inner = re.escape(span[1:-1].strip())
    return re.search(f"[{_QUOTES}]\\s*{inner}\\s*[{_QUOTES}]", text) is not None


def keeps_subject(text: str, original: str) -> bool:
    """The text carries the user's subject (`subject.carries_subject`), and quoted text and
    weighted groups word for word: a sign's words and a weight the user chose are exact."""
    original, spans = structure(original)
    flat = " ".join(text.split())
    if not all(_said_exactly(original[start:end], flat) for start, end in spans):
        return False
    if content_words(original):
        return carries_subject(flat, original)
    wanted = norm_key(original)
    return not wanted or wanted in norm_key(text)


def distinct(units: list[str], original: str) -> list[str]:
    """Without sentences that restate an earlier one or repeat its opening a third time: the
    loops of a small model ("She's dancing, a show of ... She's dancing, a show of ...").
    The user's own sentences stay, however much they repeat themselves: that is their call."""
    users = {norm_key(s) for s in sentences(original)}
    mine = frozenset(i for i, s in enumerate(units) if norm_key(s) in users)
    drop = set(redundant_sentences(units, mine))
    return [s for i, s in enumerate(units) if i not in drop]


