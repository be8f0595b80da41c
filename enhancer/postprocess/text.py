"""Units of text: protected spans (weights, quotes), tags, sentences and clauses, and the cuts
allowed between them. Every optimizer works on these units, so none splits a weighted group,
a quotation or a clause."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Callable

from ..profiles import Element
from ..subject import CJK

_WEIGHT_SUFFIX = re.compile(r":\s*-?\d+(?:\.\d+)?\s*$")


BRACKETS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in BRACKETS.items()}
_TERMINATORS = frozenset(".!?\u2026")
CJK_CHAR = re.compile(f"[{CJK}]")
_STRAIGHT_QUOTE = re.compile('"')
_CURLY_QUOTE = re.compile("[\u201c\u201d]")
_BRACKET = re.compile(r"[()\[\]{}]")


def structure(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The text without unpaired quotes or brackets, and its outermost protected spans.

    A protected span is a weighted group like `(red dress:1.2)` or a quotation like `"OPEN"`:
    commas inside do not separate and cuts never fall inside. Unpaired marks are dropped because
    a lone `(` or `"` would pair differently once the text is reassembled, and the result must
    read the same way the second time round.
    """
    spans, unpaired = find_spans(text)
    if unpaired:
        text = "".join(c for i, c in enumerate(text) if i not in unpaired)
        spans, _ = find_spans(text)
    return text, spans


def find_spans(text: str) -> tuple[list[tuple[int, int]], set[int]]:
    unpaired: set[int] = set()
    straight = [m.start() for m in _STRAIGHT_QUOTE.finditer(text)]
    if len(straight) % 2:
        unpaired.add(straight.pop())
    quotes = [(straight[i], straight[i + 1] + 1) for i in range(0, len(straight), 2)]

    # Curly quotes pair outside straight quotations; a second opener replaces an unclosed one.
    masked = mask(text, quotes)
    pending = None
    for match in _CURLY_QUOTE.finditer(masked):
        i = match.start()
        if match.group() == "\u201c":
            if pending is not None:
                unpaired.add(pending)
            pending = i
        elif pending is None:
            unpaired.add(i)
        else:
            quotes.append((pending, i + 1))
            pending = None
    if pending is not None:
        unpaired.add(pending)

    quotes = _outermost(sorted(quotes))
    spans: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    for match in _BRACKET.finditer(mask(text, quotes)):
        i, c = match.start(), match.group()
        if c in BRACKETS:
            stack.append((c, i))
        elif stack and stack[-1][0] == _CLOSERS[c]:
            _, start = stack.pop()
            if not stack:
                spans.append((start, i + 1))
        else:
            unpaired.add(i)
    # Spans closed while an unpaired opener was still open were not recorded; the caller
    # recomputes them once that opener is gone.
    unpaired.update(start for _, start in stack)
    spans.extend(quotes)  # those inside a bracket group fall away in _outermost
    return _outermost(sorted(spans)), unpaired


def mask(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with each span's inside blanked to "x", so that patterns only see what is outside."""
    if not spans:
        return text
    parts = []
    position = 0
    for start, end in spans:
        parts.append(text[position:start])
        parts.append("x" * (end - start))
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _outermost(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if out and start < out[-1][1]:
            continue
        out.append((start, end))
    return out


_TAG_BREAK = re.compile(r"[,;|\n\uff0c\uff1b\u3002\uff01\uff1f]|[.!?\u2026](?=\s|$)")
_SENTENCE_BREAK = re.compile(r"\n|[\u3002\uff01\uff1f]|[.!?\u2026](?=\s|$)")


def pieces(text: str, spans: list[tuple[int, int]], tags: bool) -> list[str]:
    """Split at tag separators (tags=True) or sentence ends, never inside a protected span.

    Tag separators are dropped; a sentence keeps its closing punctuation."""
    masked = mask(text, spans)
    cuts: list[tuple[int, int]] = []  # (end of this piece, start of the next)
    for match in (_TAG_BREAK if tags else _SENTENCE_BREAK).finditer(masked):
        i = match.start()
        keep = not tags and match.group() != "\n"
        cuts.append((i + 1 if keep else i, i + 1))
    if not tags:
        # `He said "Stop."` ends a sentence at the closing quote.
        n = len(text)
        for start, end in spans:
            if end - start >= 2 and text[end - 2] in _TERMINATORS and (end == n or text[end].isspace()):
                cuts.append((end, end))
        cuts.sort()
    out: list[str] = []
    begin = 0
    for end, after in cuts:
        out.append(text[begin:end])
        begin = after
    out.append(text[begin:])
    return out


_ATOM = re.compile(f"[{CJK}]|[^\\s{CJK}]+")


def atom_ends(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """Offsets where a word ends: the places a cut may fall. CJK characters are words each."""
    return [m.end() for m in _ATOM.finditer(mask(text, spans))]


def fitting_prefix(text: str, render: Callable[[str], str], fits: Callable[[str], bool]) -> str:
    """The longest prefix of `text`, cut between words and outside groups and quotes, whose
    rendering fits. `text` must already be balanced (see `structure`)."""
    _, spans = find_spans(text)
    ends = atom_ends(text, spans)

    def ok(end: int) -> bool:
        return fits(render(text[:end]))

    lo, hi = 0, len(ends)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(ends[mid - 1]):
            lo = mid
        else:
            hi = mid - 1
    # Token counts grow with the prefix in practice; walking down covers a counter that doesn't.
    while lo > 0 and not ok(ends[lo - 1]):
        lo -= 1
    if lo:
        return text[: ends[lo - 1]]
    if not ends:
        return ""
    # Not even the first word fits (one enormous word): cut inside it, but never into a group.
    limit = ends[0]
    for start, _ in spans:
        if start < limit:
            limit = start
            break
    best = 0
    lo, hi = 1, limit
    while lo <= hi:
        mid = (lo + hi) // 2
        if ok(mid):
            best, lo = mid, mid + 1
        else:
            hi = mid - 1
    return text[:best]


@lru_cache(maxsize=64)
def _element_pattern(element: Element) -> re.Pattern[str]:
    # One alternation per element: the same test as Element.present_in, compiled once, because
    # the packing loops below ask it many times per request.
    words = "|".join(re.escape(k) for k in element.keywords)
    return re.compile(rf"(?<![a-z0-9])(?:{words})(?![a-z])")


def present(element: Element, text: str) -> bool:
    return _element_pattern(element).search(text.lower()) is not None


def meaningful(text: str) -> bool:
    return any(unicodedata.category(c)[0] in "LNS" for c in text)


def norm_key(text: str) -> str:
    return " ".join(text.lower().split())


# A line of tags, not prose: several comma-separated parts, all but one of a few words, none
# opening like the rest of a clause ("..., and adventure", "..., which ...").
_MIN_TAGS = 3
_MAX_TAG_WORDS = 5
_CLAUSE_START = re.compile(r"^(?:and|or|but|nor|so|yet|which|who|whose|that|while|as|because|where|when)\b", re.I)


def is_tag_line(tags: list[str], in_prose: bool = False) -> bool:
    """`in_prose`: the parts make a sentence that ends like one. There a long part is a clause
    and the commas are the sentence's ("a charming, rustic storefront ... displays the words
    ... in a bold, modern font."), so every part must be short."""
    if len(tags) < _MIN_TAGS or any(_CLAUSE_START.match(t) for t in tags):
        return False
    return sum(len(t.split()) > _MAX_TAG_WORDS for t in tags) <= (0 if in_prose else 1)


_DANGLING = frozenset(
    "a an the and or but of to in on at with for from by as its their his her into onto over "
    "under while then than that which".split()
)
ENDS_TERMINATED = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"\u201d'\u2019)\]]*$")


def terminate(sentence: str) -> str:
    sentence = sentence.rstrip(" ,;:\u2013\u2014-\uff0c\u3001")
    if not sentence or ENDS_TERMINATED.search(sentence):
        return sentence
    return sentence + ("\u3002" if CJK_CHAR.match(sentence[-1]) else ".")


def capitalize(sentence: str) -> str:
    first = sentence.split(" ", 1)[0].rstrip(".,;:!?")
    if first.isascii() and first.isalpha() and first.islower():
        return sentence[0].upper() + sentence[1:]
    return sentence


def sentences(text: str, drop_dangling: bool = False) -> list[str]:
    text, spans = structure(text)
    raw = [" ".join(p.split()) for p in pieces(text, spans, tags=False)]
    raw = [p for p in raw if meaningful(p)]
    if drop_dangling and len(raw) > 1 and not ENDS_TERMINATED.search(raw[-1]):
        # A last fragment ending on "the" or a comma was cut off by the generation limit.
        last_word = raw[-1].split()[-1].lower()
        if last_word in _DANGLING or raw[-1].endswith((",", ";", ":", "-")):
            raw.pop()
    out: list[str] = []
    seen: set[str] = set()
    for piece in raw:
        sentence = capitalize(terminate(piece.strip(" -\u2013\u2014\u2022*:;,")))
        if sentence and norm_key(sentence) not in seen:
            seen.add(norm_key(sentence))
            out.append(sentence)
    return out


def split_tags(text: str) -> list[str]:
    text, spans = structure(text)
    out = []
    for piece in pieces(text, spans, tags=True):
        tag = " ".join(piece.split()).strip(" -\u2013\u2014\u2022*:;.\u00b7")
        if tag:
            out.append(tag)
    return out


def units_of(sentence: str) -> list[str]:
    """A sentence's units: its tags when it is a list of tags, else the sentence whole."""
    tags = split_tags(sentence)
    terminated = bool(ENDS_TERMINATED.search(sentence))
    if is_tag_line(tags, in_prose=terminated) or (len(tags) == 1 and not terminated):
        return tags
    return [sentence]


def unwrap(tag: str) -> str:
    previous = None
    while previous != tag:
        previous = tag
        if len(tag) >= 2 and tag[0] in BRACKETS and tag[-1] == BRACKETS[tag[0]]:
            tag = tag[1:-1].strip()
        tag = _WEIGHT_SUFFIX.sub("", tag).strip()
    return tag


# A comma, semicolon or dash before one of these opens a new clause or phrase ("..., casting long
# shadows", "..., while waves crash"); before any other word it is inside one ("neat, precise
# threads"), and a cut there would leave "with neat," behind.
_CLAUSE_OPENER = re.compile(
    r"(?:and|but|so|yet|which|who|whose|where|when|while|as|because|with|without|its|their|his|her|"
    r"creating|casting|adding|giving|making|[a-z]{3,}ing)\b",
    re.I,
)
_CLAUSE_BREAK = re.compile(r"\s*(?:[,;]|\s[\u2013\u2014-])\s+")


def clauses(sentence: str) -> list[str]:
    """The sentence in clauses, each but the first starting at its separator, so that any
    leading run of them joined is a cut between clauses. Never splits a protected span."""
    spans, _ = find_spans(sentence)
    masked = mask(sentence, spans)
    out: list[str] = []
    begin = 0
    for match in _CLAUSE_BREAK.finditer(masked):
        after = match.end()
        if _CLAUSE_OPENER.match(masked, after) or match.group().strip() in (";", "\u2013", "\u2014", "-"):
            out.append(sentence[begin:match.start()])
            begin = match.start()
    out.append(sentence[begin:])
    return [c for c in out if c]
