"""Turn a model's answer into a prompt the target encoder takes whole: clean, optimize, compress.

`clean` removes what a chatty instruction model wraps around its answer. `optimize` then makes the
guarantees the model does not: for SDXL one comma-separated line led by quality tags and the user's
subject, compressed by priority to the CLIP budget; for WAN whole sentences of prose that keep the
subject, mention motion and camera work, and end at a sentence boundary within the budget. Both are
pure functions of their arguments.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Callable

from .profiles import CAMERA, LIGHTING, QUALITY_TAGS, RESOLUTION, TECHNICAL, Element, Profile
from .quality import (
    chatter_markers,
    content_words,
    invents_animal,
    mentions_person,
    redundant_sentences,
    stems,
    subject_coverage,
)
from .tokens import TokenCounter

# --------------------------------------------------------------------------------------------
# clean
# --------------------------------------------------------------------------------------------

# Chat-template tokens left in when decoding kept special tokens, with the role that follows one.
_SPECIAL_TOKENS = re.compile(
    r"<\|im_start\|>(?:assistant|user|system)?|<\|[^|<>\n]{1,40}\|>|</?s>|\[/?INST\]"
)
_THINK_BLOCK = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.I | re.S)
# An opening tag never closed means generation stopped mid-thought: nothing after it is an answer.
_THINK_UNCLOSED = re.compile(r"<(?:think|thinking|reasoning)>.*", re.I | re.S)
# A closing tag alone: the chat template opened the block, so everything before it is reasoning.
_THINK_CLOSE_ONLY = re.compile(r"^.*</(?:think|thinking|reasoning)>", re.I | re.S)
_FENCE = re.compile(r"^\s*(?:```|~~~)[\w+-]*\s*$", re.M)

_RULE = re.compile(r"[-*_=~]{3,}")
_HEADING = re.compile(r"^#{1,6}\s*")
_BLOCKQUOTE = re.compile(r"^(?:>\s*)+")
_LIST_MARKER = re.compile(r"^(?:[-*+\u2022\u2023\u25aa\u25e6\u25cf\u2013]|\d{1,2}[.)]|[a-z][.)])\s+")
_LINK = re.compile(r"\[([^\]\n]+)\]\([^)\n]*\)")
_BOLD = re.compile(r"\*\*|__")
_ITALIC_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC_UNDERSCORE = re.compile(r"(?<!\w)_(?=\S)([^_\n]+?)(?<=\S)_(?!\w)")
_STRAY_STAR = re.compile(r"^\*+\s*|\s*\*+$")

_INTERJECTION = re.compile(
    r"^(?:(?:sure(?:\s+thing)?|certainly|of\s+course|absolutely|okay|ok|alright|all\s+right|"
    r"great(?:\s+(?:idea|choice|prompt|question))?|gladly|no\s+problem|yes|perfect|got\s+it|"
    r"understood|excellent)\s*[!.,:;\u2014-]+"
    r"|(?:i(?:'d|\u2019d|\s+would)\s+(?:be\s+)?(?:happy|glad|love)|happy|glad)\s+to\s+help"
    r"[^.!:\n]*[.!:]+)\s*",
    re.I,
)
_HERE_IS = re.compile(
    r"^(?:here(?:'s|\u2019s|\s+is|\s+are)|below\s+is|this\s+is|"
    r"i(?:'ve|\u2019ve|\s+have)\s+(?:created|written|enhanced|rewritten|crafted|expanded|"
    r"generated|improved|refined))\b",
    re.I,
)
_ABOUT_PROMPT = re.compile(
    r"\b(?:prompt|version|description|rewrite|rewritten|enhance\w*|result|take|output)\b", re.I
)
# "Enhanced prompt:", "SDXL Prompt (fast):", "Final answer:" and the like, up to three words long.
_LABEL = re.compile(
    r"^(?:[\w\-]+\s+){0,3}?(?:prompt|version|output|result|answer|response|description|"
    r"enhanced|improved|rewritten|refined|assistant|rewrite)s?(?:\s*\([^)\n]{0,30}\))?\s*:\s*",
    re.I,
)
_LABEL_ONLY = re.compile(
    r"^(?:[\w\-]+\s+){0,3}(?:prompt|version|output|result|answer|response)s?\s*:?\s*$", re.I
)
# Field names that small models put in front of each part when they answer as a form.
_FIELD_LABEL = re.compile(
    r"^(?:subject|main\s+subject|lighting|style|art\s+style|camera(?:\s+(?:work|movement|angle))?|"
    r"setting|mood|composition|details?|background|foreground|colou?rs?(?:\s+palette)?|atmosphere|"
    r"environment|scene|motion|movement|action|quality(?:\s+tags)?|technical(?:\s+details)?|"
    r"resolution|lens|pose|medium|tags?|keywords?|visuals?|audio|duration|shot)\s*:\s*",
    re.I,
)
_ECHO_LABEL = re.compile(
    r"^(?:original|user(?:'s)?|input|given|your|source|initial|human|question)"
    r"(?:\s+(?:prompt|input|idea|text|request|description))?\s*:",
    re.I,
)
_INSTRUCTION = re.compile(
    r"^(?:please\s+)?(?:rewrite|enhance|improve|expand|refine|transform|convert|rephrase|"
    r"make|turn|create|generate)\b[^:\n]{0,80}\b(?:prompt|this|following|idea|it)\b[^:\n]{0,40}:",
    re.I,
)
_REFUSAL = re.compile(
    r"^(?:i(?:'m|\u2019m|\s+am)\s+(?:sorry|afraid|unable|not\s+able)|sorry\b|"
    r"i\s+(?:cannot|can't|can\u2019t|can\s+not|won't|will\s+not)\b|as\s+an\s+ai\b|"
    r"unfortunately\b|i\s+understand\b|what\s+a\s+(?:great|lovely|fun|nice)\b)",
    re.I,
)
# What models say after the prompt. Matched at a line start, or inline after a sentence ends.
_TRAILER = (
    r"(?:i\s+hope\b|hope\s+(?:this|that|you|it)\b|let\s+me\s+know\b|feel\s+free\b|"
    r"please\s+let\s+me\b|(?:side\s+)?notes?\s*:|explanation\s*:|(?:key\s+)?changes(?:\s+made)?\s*:|"
    r"tips?\s*:|negative\s+prompt\b|"
    r"this\s+(?:enhanced\s+|revised\s+|improved\s+|updated\s+|new\s+|final\s+|rewritten\s+|"
    r"expanded\s+|optimized\s+)?(?:prompt|version|description)\b|"
    r"the\s+(?:enhanced|revised|improved|updated|rewritten|expanded|optimized)\s+(?:prompt|version)\b|"
    r"i(?:'ve|\u2019ve|\s+have)?\s+(?:added|included|enhanced|expanded|incorporated|focused|kept|"
    r"emphasized|used)\b|enjoy\b|would\s+you\s+like\b|do\s+you\s+want\b|"
    r"if\s+you(?:'d|\s+would)?\s+(?:like|want|need)\b|(?:word|token)\s+count\b|this\s+should\b|"
    r"by\s+adding\b|these\s+(?:details|additions|changes)\b)"
)
_TRAILER_LINE = re.compile(_TRAILER, re.I)
_TRAILER_INLINE = re.compile(r"(?:(?<=[.!?\u2026\"\u201d')\]])[ \t]+|\n)" + _TRAILER, re.I)
_ASIDE = re.compile(
    r"\s*[(\[]\s*(?:note\b|word\s+count|token\s+count|\d+\s+(?:words|tokens))[^)\]\n]*[)\]]", re.I
)
# Several alternatives: the first one is the answer.
_OPTION = re.compile(r"^(?:option|variation|alternative|variant|version)\s*#?\d+\s*[:.)\-]\s*", re.I)
_QUOTE_PAIRS = {'"': '"', "\u201c": "\u201d", "\u00ab": "\u00bb", "'": "'", "`": "`",
                "\u2018": "\u2019", "\u300c": "\u300d"}


def clean(raw: str, original: str) -> str:
    """The model's answer without reasoning, preambles, labels, Markdown, quotes or chatter.

    Lines are kept (joined by newlines) so that `optimize` can treat them as tag or sentence
    boundaries. A refusal or an answer made only of chatter gives "".
    """
    text = _SPECIAL_TOKENS.sub(" ", raw or "")
    text = _THINK_BLOCK.sub("\n", text)
    text = _THINK_UNCLOSED.sub("", text)
    text = _THINK_CLOSE_ONLY.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _FENCE.sub("", text)
    text = _ASIDE.sub("", text)

    lines: list[str] = []
    for line in text.split("\n"):
        line = _strip_markdown(line)
        if not line:
            continue
        if _TRAILER_LINE.match(line):
            if lines:
                break
            continue
        if _ECHO_LABEL.match(line) or _INSTRUCTION.match(line) or _REFUSAL.match(line):
            continue
        option = _OPTION.match(line)
        if option:
            if lines:
                break
            line = line[option.end():]
        line = _strip_preamble(line)
        if line:
            lines.append(line)

    # An echo of the user's prompt next to the real answer adds nothing: optimize puts the
    # subject back where each encoder wants it.
    if len(lines) > 1:
        echo = _loose_key(original)
        lines = [line for line in lines if _loose_key(line) != echo] or lines
    text = "\n".join(lines)
    match = _TRAILER_INLINE.search(text)
    if match:
        text = text[: match.start()]
    # Meta talk can sit anywhere, not only before or after the answer: a small model explains
    # what it would do ("This can be rewritten into a more descriptive version...") in place of
    # or in between its description. Those sentences go, wherever they are.
    lines = [kept for line in text.split("\n") if (kept := _drop_chatter(line, original))]
    return _unquote(_drop_cut_tail("\n".join(lines).strip())).strip()


# Words a finished phrase does not end on: the generation limit cut it ("They're going to").
_UNFINISHED = frozenset(
    "a an the and or but of to in on at with for from by as its their his her into onto over under "
    "while then than that which they they're he she it it's is are was were be been being going will "
    "can could would should has have had very more most so such this these those our my your some"
    .split()
)
_TAIL_SEPARATOR = re.compile(r"[,;.!?\n\u3002\uff0c](?=[^,;.!?\n\u3002\uff0c]*$)")


def _drop_cut_tail(text: str) -> str:
    """Without a last phrase that the generation limit cut off mid-way ("..., They're")."""
    if not text or _ENDS_TERMINATED.search(text):
        return text
    words = text.split()
    if not words or words[-1].lower().strip(",;:") not in _UNFINISHED:
        return text
    separator = _TAIL_SEPARATOR.search(text)
    if separator is None:
        return text
    cut = text[: separator.start() + (1 if text[separator.start()] in ".!?\u3002" else 0)]
    return cut.rstrip(" ,;") if _meaningful(cut) else text


# A line of tags, not prose: several comma-separated parts, all but one of a few words, none
# opening like the rest of a clause ("..., and adventure", "..., which ...").
_MIN_TAGS = 3
_MAX_TAG_WORDS = 5
_CLAUSE_START = re.compile(r"^(?:and|or|but|nor|so|yet|which|who|whose|that|while|as|because|where|when)\b", re.I)


def _is_tag_line(tags: list[str]) -> bool:
    if len(tags) < _MIN_TAGS or any(_CLAUSE_START.match(t) for t in tags):
        return False
    return sum(len(t.split()) > _MAX_TAG_WORDS for t in tags) <= 1


def _drop_chatter(line: str, original: str) -> str:
    """The line without its sentences that talk about the task (see `quality.chatter_markers`).

    In prose the whole sentence goes: what is left of it would not read. In a line of tags
    only the tags that talk go, so one "perfect for your wall" does not take the rest."""
    if not chatter_markers(line, original):
        return line
    text, spans = _structure(line)
    kept: list[str] = []
    for sentence in _pieces(text, spans, tags=False):
        sentence = sentence.strip()
        if not sentence or not chatter_markers(sentence, original):
            if sentence:
                kept.append(sentence)
            continue
        _, inner = _find_spans(sentence)
        tags = [t.strip() for t in _pieces(sentence, inner, tags=True) if t.strip()]
        if _is_tag_line(tags):
            tags = [t for t in tags if not chatter_markers(t, original)]
            if tags:
                kept.append(", ".join(tags))
    return " ".join(kept).strip()


_REFUSAL_ANYWHERE = re.compile(
    r"\b(?:i(?:\s+(?:cannot|can't|can\u2019t|can\s+not|won't|will\s+not|am\s+unable\s+to)|"
    r"['\u2019]m\s+unable\s+to)\s+(?:help|assist|create|generate|provide|fulfil|fulfill|comply|write)|"
    r"against\s+(?:my|the|our)\s+(?:guidelines|policy|policies|principles)|as\s+an\s+ai\b)",
    re.I,
)


def is_unusable(text: str, original: str) -> bool:
    """True when a cleaned answer gives nothing to build on, so the rules should answer instead:
    empty, only punctuation, a refusal, or the user's prompt handed back unchanged."""
    text = (text or "").strip()
    if not text or not _meaningful(text):
        return True
    if _REFUSAL.match(text) or _REFUSAL_ANYWHERE.search(text):
        return True
    echo = _loose_key(original)
    return bool(echo) and _loose_key(text) == echo


def _strip_markdown(line: str) -> str:
    line = line.strip()
    if _RULE.fullmatch(line):
        return ""
    previous = None
    while previous != line:
        previous = line
        line = _HEADING.sub("", line)
        line = _BLOCKQUOTE.sub("", line)
        line = _LIST_MARKER.sub("", line).strip()
    line = _LINK.sub(r"\1", line)
    line = _BOLD.sub("", line)
    line = _ITALIC_STAR.sub(r"\1", line)
    line = _ITALIC_UNDERSCORE.sub(r"\1", line)
    line = _STRAY_STAR.sub("", line)
    return line.replace("`", "").strip()


def _strip_preamble(line: str) -> str:
    previous = None
    while previous != line and line:
        previous = line
        line = _INTERJECTION.sub("", line).strip()
        if _HERE_IS.match(line):
            if ":" in line:
                line = line.split(":", 1)[1].strip()
            elif _ABOUT_PROMPT.search(line):
                return ""
        if _LABEL_ONLY.match(line):
            return ""
        line = _LABEL.sub("", line, count=1).strip()
        line = _FIELD_LABEL.sub("", line, count=1).strip()
        line = _unquote(line)
    return line


def _unquote(text: str) -> str:
    while len(text) >= 2:
        body = text[:-1] if text[-1] in ".!" and len(text) > 2 and text[-2] in _QUOTE_PAIRS.values() else text
        opener, closer = body[0], body[-1]
        if _QUOTE_PAIRS.get(opener) != closer or len(body) < 2:
            break
        inner = body[1:-1]
        if opener in inner or closer in inner:
            # Quotes inside: the outer pair may not be a wrapper ("OPEN" sign ... "CLOSED").
            break
        text = inner.strip()
    return text


def _loose_key(text: str) -> str:
    return " ".join(content_words(text))


# --------------------------------------------------------------------------------------------
# structure: groups and quotes that must never be split
# --------------------------------------------------------------------------------------------

_BRACKETS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {v: k for k, v in _BRACKETS.items()}
_TERMINATORS = frozenset(".!?\u2026")
_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_CJK_CHAR = re.compile(f"[{_CJK_RANGES}]")
_STRAIGHT_QUOTE = re.compile('"')
_CURLY_QUOTE = re.compile("[\u201c\u201d]")
_BRACKET = re.compile(r"[()\[\]{}]")


def _structure(text: str) -> tuple[str, list[tuple[int, int]]]:
    """The text without unpaired quotes or brackets, and its outermost protected spans.

    A protected span is a weighted group like `(red dress:1.2)` or a quotation like `"OPEN"`:
    commas inside do not separate and cuts never fall inside. Unpaired marks are dropped because
    a lone `(` or `"` would pair differently once the text is reassembled, and the result must
    read the same way the second time round.
    """
    spans, unpaired = _find_spans(text)
    if unpaired:
        text = "".join(c for i, c in enumerate(text) if i not in unpaired)
        spans, _ = _find_spans(text)
    return text, spans


def _find_spans(text: str) -> tuple[list[tuple[int, int]], set[int]]:
    unpaired: set[int] = set()
    straight = [m.start() for m in _STRAIGHT_QUOTE.finditer(text)]
    if len(straight) % 2:
        unpaired.add(straight.pop())
    quotes = [(straight[i], straight[i + 1] + 1) for i in range(0, len(straight), 2)]

    # Curly quotes pair outside straight quotations; a second opener replaces an unclosed one.
    masked = _mask(text, quotes)
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
    for match in _BRACKET.finditer(_mask(text, quotes)):
        i, c = match.start(), match.group()
        if c in _BRACKETS:
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


def _mask(text: str, spans: list[tuple[int, int]]) -> str:
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


def _pieces(text: str, spans: list[tuple[int, int]], tags: bool) -> list[str]:
    """Split at tag separators (tags=True) or sentence ends, never inside a protected span.

    Tag separators are dropped; a sentence keeps its closing punctuation."""
    masked = _mask(text, spans)
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


_ATOM = re.compile(f"[{_CJK_RANGES}]|[^\\s{_CJK_RANGES}]+")


def _atom_ends(text: str, spans: list[tuple[int, int]]) -> list[int]:
    """Offsets where a word ends: the places a cut may fall. CJK characters are words each."""
    return [m.end() for m in _ATOM.finditer(_mask(text, spans))]


def _fitting_prefix(text: str, render: Callable[[str], str], fits: Callable[[str], bool]) -> str:
    """The longest prefix of `text`, cut between words and outside groups and quotes, whose
    rendering fits. `text` must already be balanced (see `_structure`)."""
    _, spans = _find_spans(text)
    ends = _atom_ends(text, spans)

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


def _present(element: Element, text: str) -> bool:
    return _element_pattern(element).search(text.lower()) is not None


def _meaningful(text: str) -> bool:
    return any(unicodedata.category(c)[0] in "LNS" for c in text)


def _key(text: str) -> str:
    return " ".join(text.lower().split())


# --------------------------------------------------------------------------------------------
# optimize
# --------------------------------------------------------------------------------------------


def optimize(text: str, original: str, profile: Profile, counter: TokenCounter) -> str:
    """The prompt the target encoder should receive, within `profile.budget` tokens of `counter`."""
    if profile.family == "sdxl":
        step = _optimize_sdxl
    elif profile.family == "wan":
        step = _optimize_wan
    else:
        raise ValueError(f"unknown profile family {profile.family!r}")
    out = step(text or "", original or "", profile, counter)
    # Each step is written to reproduce its own output; re-running until nothing changes makes
    # that a guarantee where the heuristics (subject matching, greedy packing) could interact.
    for _ in range(3):
        again = step(out, original or "", profile, counter)
        if again == out:
            break
        out = again
    return out


# --- SDXL ---------------------------------------------------------------------------------

_WEIGHT_SUFFIX = re.compile(r":\s*-?\d+(?:\.\d+)?\s*$")
# "sharp focus" is both a quality keyword and the technical default; it stays with the technical
# terms so that adding that default does not reshuffle the quality tags on the next pass.
_QUALITY_PHRASES = (frozenset(QUALITY_TAGS.keywords) - {"sharp focus"}) | {
    "high-quality", "top quality", "amazing quality", "ultra high quality", "very detailed",
    "extremely detailed", "hyperdetailed", "hyper detailed", "absurdres", "award winning",
    "award-winning", "ultra high res", "ultra high resolution",
}
_TECHNICAL_GROUP = (TECHNICAL, CAMERA, RESOLUTION)


def _tags(text: str) -> list[str]:
    text, spans = _structure(text)
    out = []
    for piece in _pieces(text, spans, tags=True):
        tag = " ".join(piece.split()).strip(" -\u2013\u2014\u2022*:;.\u00b7")
        if tag:
            out.append(tag)
    return out


def _unwrap(tag: str) -> str:
    previous = None
    while previous != tag:
        previous = tag
        if len(tag) >= 2 and tag[0] in _BRACKETS and tag[-1] == _BRACKETS[tag[0]]:
            tag = tag[1:-1].strip()
        tag = _WEIGHT_SUFFIX.sub("", tag).strip()
    return tag


def _is_quality(tag: str) -> bool:
    return _unwrap(tag).lower() in _QUALITY_PHRASES


def _priority(tag: str) -> int:
    # Quality tags (0) and the subject (1) are placed before packing; the rest compete.
    if _present(LIGHTING, tag):
        return 2
    if any(_present(e, tag) for e in _TECHNICAL_GROUP):
        return 3
    return 4


def _join(tags: list[str]) -> str:
    return ", ".join(tags)


def _optimize_sdxl(text: str, original: str, profile: Profile, counter: TokenCounter) -> str:
    def fits(tags: list[str]) -> bool:
        return counter.count(_join(tags)) <= profile.budget

    seen: set[str] = set()
    quality: list[str] = []
    subject: list[str] = []
    for tag in _tags(original):
        if _key(tag) in seen:
            continue
        seen.add(_key(tag))
        (quality if _is_quality(tag) else subject).append(tag)
    subject_stems = stems(_join(subject))

    def adds_nothing(tag: str) -> bool:
        # Filler, or a repeat of the subject that already leads the prompt.
        words = stems(_unwrap(tag))
        return not words or words <= subject_stems

    rest: list[str] = []
    for tag in _tags(text):
        tag = _after_subject(tag, subject)
        key = _key(tag)
        if key in seen:
            continue
        if _off_picture(tag, original):
            # In a line of tags only the tag that invents or cannot be seen goes.
            continue
        if _is_quality(tag):
            quality.append(tag)
            seen.add(key)
        elif not adds_nothing(tag):
            seen.add(key)
            rest.append(tag)
    # A small model's loop in tags ("They're going to jump, They're going to win, ...").
    loops = set(redundant_sentences(rest, restatements=False))
    rest = [t for i, t in enumerate(rest) if i not in loops]
    if not quality:
        quality = [t for t in _tags(QUALITY_TAGS.default) if _key(t) not in seen]
        seen.update(_key(t) for t in quality)

    others = [e for e in profile.required if e is not QUALITY_TAGS]

    def missing(kept: list[str]) -> list[Element]:
        body = _join(subject + kept)
        return [e for e in others if not _present(e, body)]

    candidates = list(rest)
    pending = missing(rest)
    while True:
        for element in pending:
            for tag in _tags(element.default):
                if _key(tag) not in seen:
                    seen.add(_key(tag))
                    if not adds_nothing(tag):
                        candidates.append(tag)
        head, kept = _pack_sdxl(quality, subject, candidates, fits)
        pending = missing(kept)
        # Defaults are added once each; stop when a missing element's default is already in.
        pending = [e for e in pending
                   if any(_key(t) not in seen for t in _tags(e.default))]
        if not pending:
            break
    out = _join(head + kept)
    if counter.count(out) > profile.budget:
        out = _fitting_prefix(out, lambda s: s.rstrip(" ,;:"), lambda s: counter.count(s) <= profile.budget)
        out = out.rstrip(" ,;:")
    return out


_RESTATEMENT_JOINER = re.compile(r"^[\s,;:\-\u2013\u2014]*(?:(?:and|with|is|are)\b\s*)?", re.I)


def _after_subject(tag: str, subject: list[str]) -> str:
    """What a model tag adds when it opens by restating a subject tag: "A misty harbour on a
    stormy night" after the subject "a misty harbour" is "on a stormy night". The subject already
    leads the prompt; saying it twice spends the budget and weights it twice."""
    flat = " ".join(tag.split())
    for part in subject:
        head = " ".join(part.split())
        # Compared case-blind on the text itself: lowercasing can change a string's length.
        if head and len(flat) > len(head) and flat[: len(head)].lower() == head.lower() \
                and not flat[len(head)].isalnum():
            rest = flat[len(head):]
            rest = rest[_RESTATEMENT_JOINER.match(rest).end():]
            return rest if _meaningful(rest) else tag
    return tag


def _pack_sdxl(quality: list[str], subject: list[str], candidates: list[str],
               fits: Callable[[list[str]], bool]) -> tuple[list[str], list[str]]:
    """Quality tags and subject first, then the model's tags by priority while they fit."""
    head = None
    for q in range(len(quality), 0, -1) if quality else [0]:
        if fits(quality[:q] + subject):
            head = quality[:q] + subject
            break
    if head is None:
        # The user's prompt alone is over budget: one quality tag and as much of the subject as
        # fits, cut between words. It is compressed, never expanded.
        lead = quality[:1] if quality and fits(quality[:1]) else []
        cut = _fitting_prefix(
            _join(subject),
            lambda s: _join(lead + [s.rstrip(" ,;:")] if s.rstrip(" ,;:") else lead),
            lambda s: fits([s]),
        ).rstrip(" ,;:")
        return lead + ([cut] if cut else []), []

    chosen: list[int] = []
    order = sorted(range(len(candidates)), key=lambda i: (_priority(candidates[i]), i))
    for i in order:
        trial = sorted(chosen + [i])
        if fits(head + [candidates[j] for j in trial]):
            chosen = trial
    return head, [candidates[j] for j in chosen]


# --- WAN ----------------------------------------------------------------------------------

_DANGLING = frozenset(
    "a an the and or but of to in on at with for from by as its their his her into onto over "
    "under while then than that which".split()
)
_ENDS_TERMINATED = re.compile(r"[.!?\u2026\u3002\uff01\uff1f][\"\u201d'\u2019)\]]*$")


def _terminate(sentence: str) -> str:
    sentence = sentence.rstrip(" ,;:\u2013\u2014-\uff0c\u3001")
    if not sentence or _ENDS_TERMINATED.search(sentence):
        return sentence
    return sentence + ("\u3002" if _CJK_CHAR.match(sentence[-1]) else ".")


def _capitalize(sentence: str) -> str:
    first = sentence.split(" ", 1)[0].rstrip(".,;:!?")
    if first.isascii() and first.isalpha() and first.islower():
        return sentence[0].upper() + sentence[1:]
    return sentence


def _sentences(text: str, drop_dangling: bool = False) -> list[str]:
    text, spans = _structure(text)
    raw = [" ".join(p.split()) for p in _pieces(text, spans, tags=False)]
    raw = [p for p in raw if _meaningful(p)]
    if drop_dangling and len(raw) > 1 and not _ENDS_TERMINATED.search(raw[-1]):
        # A last fragment ending on "the" or a comma was cut off by the generation limit.
        last_word = raw[-1].split()[-1].lower()
        if last_word in _DANGLING or raw[-1].endswith((",", ";", ":", "-")):
            raw.pop()
    out: list[str] = []
    seen: set[str] = set()
    for piece in raw:
        sentence = _capitalize(_terminate(piece.strip(" -\u2013\u2014\u2022*:;,")))
        if sentence and _key(sentence) not in seen:
            seen.add(_key(sentence))
            out.append(sentence)
    return out


def _keeps_subject(text: str, original: str) -> bool:
    original, spans = _structure(original)
    # Quoted text and weighted groups are exact: a sign's words, a weight the user chose.
    flat = " ".join(text.split())
    if any(" ".join(original[start:end].split()) not in flat for start, end in spans):
        return False
    if content_words(original):
        return subject_coverage(text, original) >= 1.0
    wanted = _key(original)
    return not wanted or wanted in _key(text)


def _optimize_wan(text: str, original: str, profile: Profile, counter: TokenCounter) -> str:
    def fits(prose: str) -> bool:
        return counter.count(prose) <= profile.budget

    model = [s for s in _sentences(text, drop_dangling=True) if not _off_picture(s, original)]
    model = _distinct(model, original)
    if model and _keeps_subject(" ".join(model), original):
        out = _pack_wan(model, profile, fits)
        if _keeps_subject(out, original):
            return out
    # The model lost the subject (or said nothing): the user's own words open the prompt.
    merged: list[str] = []
    seen: set[str] = set()
    for sentence in _sentences(original) + model:
        if _key(sentence) not in seen:
            seen.add(_key(sentence))
            merged.append(sentence)
    return _pack_wan(_distinct(merged, original), profile, fits)


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


@lru_cache(maxsize=256)
def _spaced_words(text: str) -> str:
    return " " + " ".join(re.findall(r"[\w'\u2019]+", text.lower())) + " "


def _unseen(piece: str, original: str) -> bool:
    """Whether a piece talks about what a camera cannot see, in words the user did not use."""
    return any(_spaced_words(m.group()) not in _spaced_words(original) for m in _UNSEEN.finditer(piece))


def _off_picture(piece: str, original: str) -> bool:
    """A tag or sentence of the model's that would change or pad the picture the user asked for.

    Prompt extenders are known to add people: Wan 2.1's own extension put a person into 36% of
    person-free prompts, and a small model gives the user's dog "his friends at the park" or
    swaps it for "a giant panda". Where the prompt has no person, a piece that adds one goes;
    so does a piece naming an animal the prompt did not, and one about what cannot be seen
    (`_UNSEEN`). A sentence goes whole: what would be left of it would not read."""
    if mentions_person(piece) and not mentions_person(original):
        return True
    return invents_animal(piece, original) or _unseen(piece, original)


def _distinct(sentences: list[str], original: str) -> list[str]:
    """Without sentences that restate an earlier one or repeat its opening a third time: the
    loops of a small model ("She's dancing, a show of ... She's dancing, a show of ...").
    The user's own sentences stay, however much they repeat themselves: that is their call."""
    users = {_key(s) for s in _sentences(original)}
    mine = frozenset(i for i, s in enumerate(sentences) if _key(s) in users)
    drop = set(redundant_sentences(sentences, mine))
    return [s for i, s in enumerate(sentences) if i not in drop]


def _missing_sentences(kept: list[str], profile: Profile) -> list[str]:
    added: list[str] = []
    for element in profile.required:
        if not _present(element, " ".join(kept + added)):
            added.append(element.default)
    return added


def _pack_wan(sentences: list[str], profile: Profile, fits: Callable[[str], bool]) -> str:
    """The longest run of leading sentences that fits together with the required elements."""
    for k in range(len(sentences), 0, -1):
        candidate = " ".join(sentences[:k] + _missing_sentences(sentences[:k], profile))
        if fits(candidate):
            return candidate
    head = sentences[:1]
    if head and not fits(head[0]):
        cut = _fitting_prefix(head[0], _terminate, fits)
        head = [_terminate(cut)] if cut.strip(" ,;:") else []
    out = list(head)
    for element in profile.required:
        if not _present(element, " ".join(out)) and fits(" ".join(out + [element.default])):
            out.append(element.default)
    return " ".join(out)
