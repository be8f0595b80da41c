"""SDXL: one line led by quality tags, the subject first, within one CLIP budget.

The model's answer is trusted unit by unit: a tag answer is made of tags, a prose answer of
sentences (a sentence that is itself a list of tags counts as tags). A unit that invents, talks
of what cannot be seen or breaks the language goes whole; the user's words go right after the
quality tags only when the answer does not carry the subject; over the budget whole units go,
lowest priority first (never a part of one: a unit that does not fit goes); stock tags are added
only for what a thin answer lacks, while they fit.
"""

from __future__ import annotations

import re
from typing import Callable

from ..detect import redundant_sentences
from ..profiles import CAMERA, LIGHTING, QUALITY_TAGS, RESOLUTION, TECHNICAL, Profile
from ..subject import stems
from ..tokens import TokenCounter
from .checks import distinct, in_language, keeps_subject, off_picture
from .stock import lacks, missing_phrases, thin
from .text import (
    ENDS_TERMINATED,
    fitting_prefix,
    meaningful,
    norm_key,
    pieces,
    present,
    split_tags,
    structure,
    units_of,
    unwrap,
)

# "sharp focus" is both a quality keyword and the technical default; it stays with the technical
# terms so that adding that default does not reshuffle the quality tags on the next pass.
_QUALITY_PHRASES = (frozenset(QUALITY_TAGS.keywords) - {"sharp focus"}) | {
    "high-quality", "top quality", "amazing quality", "ultra high quality", "very detailed",
    "extremely detailed", "hyperdetailed", "hyper detailed", "absurdres", "award winning",
    "award-winning", "ultra high res", "ultra high resolution",
}
_TECHNICAL_GROUP = (TECHNICAL, CAMERA, RESOLUTION)


def join(parts: list[str]) -> str:
    """Tags joined by commas; after a whole sentence, a space."""
    out = ""
    for part in parts:
        if out:
            out += " " if ENDS_TERMINATED.search(out) else ", "
        out += part
    return out


def _is_quality(tag: str) -> bool:
    return unwrap(tag).lower() in _QUALITY_PHRASES


def _units(text: str) -> tuple[list[str], list[str]]:
    """(quality tags that lead the text, the rest in units: sentences, or the tags of a
    sentence that is a list of tags)."""
    text, spans = structure(text)
    lead: list[str] = []
    # Leading quality tags are peeled off first, so that the sentence they were put in front
    # of is judged on its own (tags or prose) the second time round too.
    for piece in pieces(text, spans, tags=True):
        tag = " ".join(piece.split()).strip(" -\u2013\u2014\u2022*:;.\u00b7")
        if not tag:
            continue
        if not _is_quality(tag):
            break
        lead.append(tag)
    if lead:
        text, spans = structure(text.split(lead[-1], 1)[1].lstrip(" ,;"))
    units: list[str] = []
    for piece in pieces(text, spans, tags=False):
        piece = " ".join(piece.split()).strip(" ,;:-\u2013\u2014\u2022*")
        if not meaningful(piece):
            continue
        units.extend(units_of(piece))
    return lead, units


def optimize_sdxl(text: str, original: str, profile: Profile, counter: TokenCounter, rules: bool = False) -> str:
    def fits(parts: list[str]) -> bool:
        return counter.count(join(parts)) <= profile.budget

    quality: list[str] = []
    subject: list[str] = []
    for tag in dict.fromkeys(split_tags(original)):
        (quality if _is_quality(tag) else subject).append(tag)

    lead_quality, units = _units(text)
    body: list[str] = []
    seen = {norm_key(q) for q in quality}
    for unit in lead_quality + units:
        if norm_key(unit) in seen or off_picture(unit, original) or not in_language(unit, original):
            continue
        seen.add(norm_key(unit))
        (quality if _is_quality(unit) else body).append(unit)
    # A small model's loop in tags ("They're going to jump, They're going to win, ...").
    loops = set(redundant_sentences(body, restatements=False))
    body = distinct([u for i, u in enumerate(body) if i not in loops], original)

    # A check dropped a unit of the model's, or the user's words must lead (set below).
    repaired = len(body) < sum(not _is_quality(u) for u in units)
    if body and keeps_subject(join(body), original):
        lead: list[str] = []
        body = _subject_first(body, original)
    else:
        lead = subject
        repaired = True
        body = _without_restatement(body, subject)
    if not quality:
        quality = [t for t in split_tags(QUALITY_TAGS.default) if norm_key(t) not in seen]

    head = _head(quality, lead, fits)
    if head is None:
        return _cut_user_prompt(quality, lead, fits)
    kept = list(body)
    while kept and not fits(head + kept):
        kept.pop(_lowest_priority(head, kept, original, profile))
    out = head + kept
    # Stock tags fill what the rules' draft lacks, or what a thin answer lacks once a check has
    # had to repair it (thin judged on all the model wrote: compressed to fit is not thin); a
    # clean answer passes through as the model wrote it, led by quality tags.
    if not (rules or (repaired and thin(join(head + body), profile, counter))):
        return join(out)
    for phrase in missing_phrases(profile, original, join(out), skip=(QUALITY_TAGS,)):
        for tag in split_tags(phrase):
            if norm_key(tag) not in {norm_key(p) for p in out} and fits(out + [tag]):
                out.append(tag)
    return join(out)


def _head(quality: list[str], lead: list[str], fits: Callable[[list[str]], bool]) -> list[str] | None:
    """As many quality tags as fit in front of the user's words, or None when even one does not."""
    for q in range(len(quality), 0, -1) if quality else [0]:
        if fits(quality[:q] + lead):
            return quality[:q] + lead
    return None


def _cut_user_prompt(quality: list[str], subject: list[str], fits: Callable[[list[str]], bool]) -> str:
    """The user's prompt alone is over budget: one quality tag and as much of the subject as
    fits, cut between words. It is compressed, never expanded."""
    lead = quality[:1] if quality and fits(quality[:1]) else []
    cut = fitting_prefix(
        join(subject),
        lambda s: join(lead + [s.rstrip(" ,;:")] if s.rstrip(" ,;:") else lead),
        lambda s: fits([s]),
    ).rstrip(" ,;:")
    return join(lead + ([cut] if cut else []))


def _subject_first(body: list[str], original: str) -> list[str]:
    """The units that name the user's subject first: SDXL's pooled embedding sees only the
    first window. Prose keeps its order (its first sentence opens on the subject)."""
    if any(ENDS_TERMINATED.search(u) for u in body):
        return body
    wanted = stems(original)
    return sorted(body, key=lambda u: not (stems(unwrap(u)) & wanted))


_RESTATEMENT_JOINER = re.compile(r"^[\s,;:\-\u2013\u2014]*(?:(?:and|with|is|are)\b\s*)?", re.I)


def _without_restatement(body: list[str], subject: list[str]) -> list[str]:
    """The model's units after the user's words lead: a tag that opens by restating them keeps
    only what it adds ("A misty harbour on a stormy night" after "a misty harbour" is "on a
    stormy night"), and a tag that adds nothing goes."""
    subject_stems = stems(join(subject))
    out = []
    for unit in body:
        if not ENDS_TERMINATED.search(unit):  # a sentence is never cut (see `_units`)
            unit = _after_subject(unit, subject)
        words = stems(unwrap(unit))
        if words and not words <= subject_stems:
            out.append(unit)
    return out


def _after_subject(tag: str, subject: list[str]) -> str:
    flat = " ".join(tag.split())
    for part in subject:
        head = " ".join(part.split())
        # Compared case-blind on the text itself: lowercasing can change a string's length.
        if head and len(flat) > len(head) and flat[: len(head)].lower() == head.lower() \
                and not flat[len(head)].isalnum():
            rest = flat[len(head):]
            rest = rest[_RESTATEMENT_JOINER.match(rest).end():]
            return rest if meaningful(rest) else tag
    return tag


def _element_rank(unit: str) -> int:
    if present(LIGHTING, unit):
        return 0
    if any(present(e, unit) for e in _TECHNICAL_GROUP):
        return 1
    return 2


def _lowest_priority(head: list[str], kept: list[str], original: str, profile: Profile) -> int:
    """The unit to drop first: not one the subject needs, then one whose elements others also
    have (lighting before technical terms before style), the later the sooner. A prose answer's
    first sentence opens on the subject and goes last."""
    prose = any(ENDS_TERMINATED.search(u) for u in kept)
    candidates = range(1, len(kept)) if prose and len(kept) > 1 else range(len(kept))

    def priority(i: int) -> tuple[int, int, int, int]:
        rest = join(head + kept[:i] + kept[i + 1:])
        needed = not keeps_subject(rest, original)
        only_holder = sum(lacks(e, rest) and not lacks(e, kept[i]) for e in profile.required)
        return (needed, only_holder, -_element_rank(kept[i]), -i)

    return min(candidates, key=priority)
