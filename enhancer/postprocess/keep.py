"""Kept terms: what the answer must hold verbatim, whatever the model wrote.

The caller's `keep_terms` (a LoRA trigger, a name, brand text), and, without being asked, the
prompt's quotations (a sign's words), weighted groups `(red door:1.3)` and LoRA tags
`<lora:name:0.7>`. A term the model altered ("open" for `"OPEN"`, "red door" for
`(red door:1.3)`, another weight on the same LoRA) is put back in the altered form's place; one
it dropped goes where the family reads it (`sdxl.py`, `wan.py`). In the fit a unit holding a
kept term outranks every other unit (`fit.rank`); only the quality tags lead it. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from .text import structure

# A1111's extra networks: `<lora:name:0.7>`, `<lyco:name>`, `<hypernet:name:1>`. They steer
# weights, not the picture's words, so the word checks never see them (`without_network_tags`).
NETWORK_TAG = re.compile(r"<(?:lora|lyco|hypernet):[^<>\s:]+(?::[^<>\s]*)?>", re.IGNORECASE)
_WEIGHTED = re.compile(r"^\((?P<core>.+):\s*-?\d+(?:\.\d+)?\s*\)$", re.DOTALL)
_QUOTE_MARKS = "\"'\u201c\u201d\u2018\u2019"


@dataclass(frozen=True)
class KeptTerm:
    text: str
    kind: str  # asked (keep_terms), quoted, weight, lora


def kept_terms(original: str, asked: Sequence[str] = ()) -> tuple[KeptTerm, ...]:
    """The caller's terms, then the prompt's quotations, weighted groups and network tags in
    the prompt's order; each once (a term inside another kept term is held by it)."""
    found = [KeptTerm(" ".join(t.split()), "asked") for t in asked]
    text, spans = structure(original or "")
    inline: list[tuple[int, KeptTerm]] = []
    for start, end in spans:
        span = text[start:end]
        if span[0] in _QUOTE_MARKS:
            inline.append((start, KeptTerm(span, "quoted")))
        elif _WEIGHTED.match(span):
            inline.append((start, KeptTerm(span, "weight")))
    inline += [(m.start(), KeptTerm(m.group(), "lora")) for m in NETWORK_TAG.finditer(text)]
    found += [term for _, term in sorted(inline, key=lambda pair: pair[0])]
    out: list[KeptTerm] = []
    for term in found:
        if term.text and not any(term.text in other.text for other in out):
            out = [o for o in out if o.text not in term.text] + [term]
    return tuple(sorted(out, key=found.index))


def without_network_tags(text: str) -> str:
    """The text without `<lora:...>`-style tags, for the checks that read words."""
    return " ".join(NETWORK_TAG.sub(" ", text).split()) if NETWORK_TAG.search(text) else text


_WEIGHT_NUMBER = re.compile(r":\s*-?\d+(?:\.\d+)?\s*\)")


def picture_words(text: str) -> str:
    """The text as words of the picture: without network tags and the numbers of weights."""
    return _WEIGHT_NUMBER.sub(")", without_network_tags(text))


def _core(term: str) -> str:
    weighted = _WEIGHTED.match(term)
    if weighted:
        return weighted.group("core").strip()
    if term[0] in _QUOTE_MARKS and term[-1] in _QUOTE_MARKS and len(term) > 2:
        return term[1:-1].strip().rstrip(".,!?")
    return term


def _altered(term: str) -> re.Pattern[str]:
    """An altered form of the term: its words in any case and spacing, in or out of quotes, with
    or without a weight; for a network tag, the same network with any weight."""
    if NETWORK_TAG.fullmatch(term):
        name = re.escape(term[1:-1].rsplit(":", 1)[0] if term.count(":") > 1 else term[1:-1])
        return re.compile(rf"<{name}(?::[^<>\s]*)?>", re.IGNORECASE)
    words = r"\s+".join(re.escape(w) for w in _core(term).split())
    quote = f"[{_QUOTE_MARKS}]"
    return re.compile(rf"(?P<paren>\(\s*)?{quote}?(?<![\w-]){words}(?![\w-])(?:(?P<stop>[.!?])?,?{quote})?"
                      rf"(?(paren)\s*(?::\s*-?\d+(?:\.\d+)?)?\s*\))", re.IGNORECASE)


def restore(text: str, term: str) -> str | None:
    """The text with the term verbatim: as it is, or with an altered form (`_altered`) replaced
    by the term in place; None when the text holds no form of it."""
    if term in text:
        return text
    match = _altered(term).search(text)
    if match is None:
        return None
    # A full stop the model put inside the quotation still ends its sentence.
    stop = match.groupdict().get("stop") or ""
    return text[: match.start()] + term + stop + text[match.end():]


def restore_all(text: str, terms: Sequence[KeptTerm]) -> str:
    for term in terms:
        text = restore(text, term.text) or text
    return text


def missing(text: str, terms: Sequence[KeptTerm]) -> list[KeptTerm]:
    return [t for t in terms if t.text not in text]


def holds_kept(unit: str, terms: Sequence[KeptTerm]) -> bool:
    return any(t.text in unit for t in terms)


class Placed:
    """Where a step puts the kept terms that it does not find in the model's text: network tags
    always after the prompt (`tail`; A1111 reads them anywhere, and a sentence or a fit would
    only move them about), the caller's terms that the prompt does not hold in front (`pinned`).
    A quotation or weight of the prompt comes back with the user's words that hold it, as any
    lost word does; `force` pins every missing term instead (the last resort of `optimize`).
    `text` is the model's text for the step; `counter` counts a text as it will be with the
    tail after it, so that every fit leaves the tail its room; `finish` gives the prompt."""

    def __init__(self, text: str, original: str, terms: Sequence[KeptTerm], counter, join,
                 force: bool = False) -> None:
        self.tail = [t.text for t in terms if t.kind == "lora"]
        self.text = text
        for tag in self.tail:
            self.text = self.text.replace(tag, " ")
        self.text = " ".join(self.text.split()) if self.tail else self.text
        self.pinned = [t.text for t in missing(self.text, terms)
                       if t.kind != "lora" and (force or t.text not in original)]
        self._terms = terms
        self._join = join
        self.counter = _WithTail(counter, self._with_tail) if self.tail else counter

    def _with_tail(self, prompt: str) -> str:
        return self._join([p for p in [prompt, *self.tail] if p])

    def finish(self, prompt: str) -> str:
        """The step's prompt with the tail, and a term a step recased put back as it was."""
        return restore_all(self._with_tail(prompt), self._terms)


class _WithTail:
    def __init__(self, counter, finish) -> None:
        self._counter, self._finish = counter, finish
        self.name = counter.name

    def count(self, text: str) -> int:
        return self._counter.count(self._finish(text))
