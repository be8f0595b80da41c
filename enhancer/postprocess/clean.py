"""Clean: remove what a chatty instruction model wraps around its answer.

Reasoning blocks, chat-template tokens, placeholders ("[Image]"), JSON around the answer, prefaces
("Sure! Here's your prompt:"), labels, Markdown, wrapping quotes, alternatives after the first,
trailers ("I hope this helps", "Negative prompt:") and sentences that talk about the task instead
of the picture. Pure functions.
"""

from __future__ import annotations

import re

from ..detect import chatter_markers
from ..subject import content_words
from .text import (
    ENDS_TERMINATED,
    meaningful,
    pieces,
    structure,
    units_of,
)

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
# Where a picture would go, a small model writes a placeholder ("[Image] A cat...", "[image of
# a cat]", "<image>"): it describes nothing.
_PLACEHOLDER = re.compile(
    r"\[\s*(?:image|img|picture|photo|illustration|video)\b[^\[\]\n]{0,120}\]|"
    r"<\s*/?\s*(?:image|img|picture|video)\b[^<>\n]{0,120}>",
    re.I,
)
# An answer given as JSON: the opening of its first field is a label ('{"prompt": "'); what
# follows the answer, the other fields and the closing brace ('", "style": "photo"}', or a
# '{"prompt": ...}' after prose), is no part of the prompt. Keys are lowercase, so a quoted
# sign ("OPEN", "CLOSED":) is not taken for one.
_JSON_OPENER = re.compile(r'^\s*\{\s*"[a-z_ ]{1,30}"\s*:\s*"?', re.M)
_JSON_TAIL = re.compile(r'(?:\{|"\s*,)\s*"[a-z_]{2,30}"\s*:.*|"\s*\}[\s\]}]*$', re.S)

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
    r"^(?:(?:original|user(?:'s)?|input|given|your|source|initial|human|question)"
    r"(?:\s+(?:prompt|input|idea|text|request|description))?"
    # The worker's own line that hands the model the caller's context, said back.
    r"|guidance\s+from\s+the\s+app(?:lication)?(?:,?\s+as\s+data)?)\s*:",
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
    text = _PLACEHOLDER.sub(" ", text)
    text = _JSON_OPENER.sub("", text, count=1)
    text = _JSON_TAIL.sub("", text, count=1)
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
    if not text or ENDS_TERMINATED.search(text):
        return text
    words = text.split()
    if not words or words[-1].lower().strip(",;:") not in _UNFINISHED:
        return text
    separator = _TAIL_SEPARATOR.search(text)
    if separator is None:
        return text
    cut = text[: separator.start() + (1 if text[separator.start()] in ".!?\u3002" else 0)]
    return cut.rstrip(" ,;") if meaningful(cut) else text


def _drop_chatter(line: str, original: str) -> str:
    """The line without its sentences that talk about the task (see `detect.chatter_markers`).

    In prose the whole sentence goes: what is left of it would not read. In a line of tags
    (`units_of`: dialogue has commas enough to pass for tags, but not their length) only the
    tags that talk go, so one "perfect for your wall" does not take the rest."""
    if not chatter_markers(line, original):
        return line
    text, spans = structure(line)
    kept: list[str] = []
    for sentence in pieces(text, spans, tags=False):
        sentence = sentence.strip()
        if not sentence or not chatter_markers(sentence, original):
            if sentence:
                kept.append(sentence)
            continue
        tags = units_of(sentence)
        if len(tags) > 1:
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
    if not text or not meaningful(text):
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
