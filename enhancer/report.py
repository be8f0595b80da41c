"""The change report (the response's `changes`, asked for with `report`): what the worker made of
the user's prompt and why.

Token counts per encoder of the target and its budget; each required word of the prompt and the
word of the answer that carries it (literally, by a synonym or a kind, or put back by the worker
when the model's answer lost it); the kept terms; the units the fit dropped; the phrases the
model did not write, and why the worker added them; the negative terms removed. Whatever the
report names in the enhanced prompt comes with its `span`, [start, end) character offsets into
it, so that `text[start:end]` is the reported string and a client can highlight it. Pure
functions: everything is read off the final text, the model's cleaned answer and the prompt.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from . import negative
from .postprocess.fit import Drop
from .postprocess.keep import KeptTerm, picture_words
from .postprocess.sdxl import is_quality
from .postprocess.text import find_spans, meaningful, norm_key, pieces, split_tags, structure
from .profiles import Profile
from .subject import CJK_RUN, carrier, english_for, required_words, stems
from .tokens import TokenCounter

# SDXL's two text encoders share CLIP's BPE, so one count holds for both.
_SDXL_ENCODERS = ("clip_vit_l", "openclip_vit_bigg")
# What the optimizers strip around a tag or a sentence (`sdxl._units`, `text.split_tags`).
_TAG_MARKS = " \t\r\n-\u2013\u2014\u2022*:;,.\u00b7"
_SENTENCE_MARKS = " \t\r\n,;:-\u2013\u2014\u2022*"
_TERMINAL = ".!?\u2026\u3002\uff01\uff1f"


def changes(*, text: str, original: str, cleaned: str | None, from_model: bool,
            drops: Sequence[Drop], kept: Sequence[KeptTerm], profile: Profile, counter: TokenCounter,
            negative_removed: Sequence[negative.Removed] = (), strength: str = "balanced",
            strength_chosen: str = "default") -> dict[str, Any]:
    """The report for one enhanced prompt `text` of `original`. `cleaned`: the model's answer
    after `postprocess.clean` (None: no model answered); `from_model`: False when the rules wrote
    `text`; `drops`: the units of the model's answer that `text` does not hold; `kept`: the
    terms `text` must hold verbatim; `strength_chosen`: "caller", "auto" or "default"."""
    tokens = counter.count(text)
    encoders = dict.fromkeys(_SDXL_ENCODERS, tokens) if profile.family == "sdxl" else {"umt5_xxl": tokens}
    return {
        "strength": {"applied": strength, "chosen_by": strength_chosen},
        "tokens": {"encoders": encoders, "budget": profile.budget, "counted_with": counter.name},
        "words": _words(text, original, cleaned if from_model else None),
        "kept_terms": [_kept(term, text, cleaned) for term in kept],
        "dropped": [{"text": d.text, "reason": d.reason} for d in drops],
        "added": _added(text, original, cleaned, from_model, kept, profile),
        "negative_removed": [{"term": r.term, "reason": r.reason} for r in negative_removed],
    }


def _words(text: str, original: str, model_answer: str | None) -> list[dict[str, Any]]:
    """Each required word and how the text carries it; "repaired" where the model's answer (not
    None only when the model wrote the text) did not carry it and the worker put it back."""
    out: list[dict[str, Any]] = []
    # A LoRA tag steers weights and a weight's number is none of the picture's words.
    for word in required_words(picture_words(original)):
        found = _carrier(word, text, original)
        if found is None:
            out.append({"word": word, "carried": "missing"})
            continue
        by, start, end, how = found
        if model_answer is not None and _carrier(word, model_answer, original) is None:
            how = "repaired"
        out.append({"word": word, "carried": how, "by": by, "span": [start, end]})
    return out


def _carrier(word: str, text: str, original: str) -> tuple[str, int, int, str] | None:
    found = carrier(word, text)
    if found is None and CJK_RUN.fullmatch(word):
        # An English answer to a Chinese prompt (SDXL always writes English) carries a character
        # by the translation of the prompt's word that holds it, read as
        # `subject.carries_subject_across` reads it: longest words first.
        translated = next(filter(None, (carrier(w, text) for w in english_for(word, original))), None)
        if translated:
            return (*translated[:3], "synonym")
    return found


def _kept(term: KeptTerm, text: str, cleaned: str | None) -> dict[str, Any]:
    start = text.find(term.text)
    return {"term": term.text, "kind": term.kind, "restored": cleaned is None or term.text not in cleaned,
            "span": [start, start + len(term.text)] if start >= 0 else None}


def _added(text: str, original: str, cleaned: str | None, from_model: bool, kept: Sequence[KeptTerm],
           profile: Profile) -> list[dict[str, Any]]:
    """The units of the text the model's answer does not hold, each with why it is there; for a
    rules answer, all of its units."""
    # Without the unpaired quotes and brackets the optimizers drop (`text.structure`): a unit
    # of the model's is still its own once a stray "]" is gone.
    held = norm_key(structure(cleaned or "")[0]) if from_model else None
    lost = [t.text for t in kept if cleaned is None or t.text not in cleaned]
    # A stock phrase is added whole (WAN) or as its tags (SDXL), and only for a required element.
    stock = {_key(part): element.name for element in profile.required
             for phrase in (element.default, element.stylized, element.chinese) if phrase
             for part in (phrase, *split_tags(phrase))}
    sdxl = profile.family == "sdxl"
    out: list[dict[str, Any]] = []
    for start, end in _pieces(text, 0, len(text), tags=False):
        if held is not None and _holds(held, text[start:end]):
            continue
        # SDXL joins its tags and sentences into one line: a sentence the model did not write
        # whole is judged tag by tag, so that the quality tags and the user's tags put in front
        # of the model's sentence are told apart from it.
        for start, end in _pieces(text, start, end, tags=True) if sdxl else [(start, end)]:
            unit = text[start:end]
            if held is not None and _holds(held, unit):
                continue
            if sdxl and is_quality(" ".join(unit.split())):
                why = "quality_tags"
            elif any(t in unit for t in lost):
                why = "kept_term"
            elif from_model and _key(unit) in stock:
                why = stock[_key(unit)]
            elif _holds(norm_key(original), unit) or (stems(unit) and stems(unit) <= stems(original)):
                why = "prompt_words"
            else:
                why = "worker" if from_model else "rules_answer"
            out.append({"text": unit, "why": why, "span": [start, end]})
    return out


def _key(unit: str) -> str:
    # A sentence end is not part of what it says: the worker terminates the model's fragments.
    return norm_key(unit).rstrip(_TERMINAL)


def _holds(normalised: str, unit: str) -> bool:
    """The normalised text holds the unit as whole words ("a cat" is not in "a cathedral")."""
    return re.search(rf"(?<!\w){re.escape(_key(unit))}(?!\w)", normalised) is not None


def _pieces(text: str, start: int, end: int, tags: bool) -> list[tuple[int, int]]:
    """`text.pieces` of text[start:end] (never cut inside a weighted group or a quotation) as
    offsets into the text, without the separators and marks around them."""
    segment = text[start:end]
    spans, _ = find_spans(segment)
    marks = _TAG_MARKS if tags else _SENTENCE_MARKS
    out: list[tuple[int, int]] = []
    position = 0
    for piece in pieces(segment, spans, tags):
        # The pieces are consecutive slices of the segment, a separator apart at most.
        at = segment.find(piece, position)
        position = at + len(piece)
        core = piece.strip(marks)
        if meaningful(core):
            left = start + at + len(piece) - len(piece.lstrip(marks))
            out.append((left, left + len(core)))
    return out
