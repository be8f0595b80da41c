"""SDXL: one line led by quality tags, the subject first, within one CLIP budget.

The model's answer is trusted unit by unit: a tag answer is made of tags, a prose answer of
sentences (a sentence that is itself a list of tags counts as tags). A unit that invents, talks
of what cannot be seen or breaks the language goes (a sentence that does so in one part keeps
its other phrases as tags); the user's tags that hold what the answer lost go right after the
quality tags, and none when it lost nothing. Prose that fits stays prose; prose that does not
becomes the model's own phrases (`phrases.py`), the subject's first; over the budget whole units
go, by what they carry (`fit.py`); stock tags are added only for what a thin repaired answer
lacks, while they fit.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

from ..detect import non_latin_runs, redundant_sentences
from ..profiles import QUALITY_TAGS, Profile
from ..subject import carried_words, missing_words, required_words, says_in_order, stems
from ..tokens import TokenCounter
from .checks import distinct, keeps_subject, screen, why_dropped
from .fit import Drop, fit, record
from .keep import KeptTerm, Placed
from .language import cross_language
from .phrases import phrases
from .stock import missing_phrases, thin
from .text import (
    ENDS_TERMINATED,
    fitting_prefix,
    meaningful,
    norm_key,
    pieces,
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


def join(parts: list[str]) -> str:
    """Tags joined by commas; after a whole sentence, a space."""
    out = ""
    for part in parts:
        if out:
            out += " " if ENDS_TERMINATED.search(out) else ", "
        out += part
    return out


def is_quality(tag: str) -> bool:
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
        if not is_quality(tag):
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


def optimize_sdxl(text: str, original: str, profile: Profile, counter: TokenCounter, rules: bool = False,
                  drops: list[Drop] | None = None, language: str | None = None,
                  keep: Sequence[KeptTerm] = (), force: bool = False) -> str:
    """`keep`: terms the prompt must hold verbatim (`keep.py`); those the text lacks follow the
    quality tags, network tags end the prompt (`keep.Placed`)."""
    # A caller's term that stands as a tag of its own belongs right after the quality tags,
    # wherever a pass left it; one the model wove into a tag of its own stays in that tag.
    for term in keep:
        if term.kind == "asked" and term.text not in original:
            text = re.sub(rf"(?:^|(?<=,))\s*{re.escape(term.text)}\s*(?:,|$)", "", text).strip(" ,")
    placed = Placed(text, original, keep, counter, join, force)
    return placed.finish(_optimize(placed.text, original, profile, placed.counter, rules, drops, language,
                                   placed.pinned, tuple(t.text for t in keep)))


def _optimize(text: str, original: str, profile: Profile, counter: TokenCounter, rules: bool,
              drops: list[Drop] | None, language: str | None, pinned: list[str], keep: tuple[str, ...]) -> str:
    def fits(parts: list[str]) -> bool:
        return counter.count(join(parts)) <= profile.budget

    quality: list[str] = []
    subject: list[str] = []
    for tag in dict.fromkeys(split_tags(original)):
        (quality if is_quality(tag) else subject).append(tag)

    if rules and not fits((quality or split_tags(QUALITY_TAGS.default)) + pinned + subject):
        # The rules' draft is the user's prompt, and it alone is over budget: compressed from
        # its start, as the user wrote it, never reordered.
        return _cut_user_prompt(quality or split_tags(QUALITY_TAGS.default), pinned + subject, fits, keep)
    lead_quality, units = _units(text)
    body: list[str] = []
    seen = {norm_key(q) for q in quality}
    for unit in lead_quality + units:
        if norm_key(unit) in seen:
            continue
        for kept in _screened(unit, original, drops, language):
            seen.add(norm_key(kept))
            (quality if is_quality(kept) else body).append(kept)
    # A small model's loop in tags ("They're going to jump, They're going to win, ...").
    loops = set(redundant_sentences(body, restatements=False))
    unlooped = distinct([u for i, u in enumerate(body) if i not in loops], original)
    for unit in body:
        if unit not in unlooped:
            record(drops, unit, "repetition")
    body = unlooped

    # A check dropped a unit of the model's, or the user's words must lead (set below).
    repaired = len(body) < sum(not is_quality(u) for u in units)
    # An answer in another language than the prompt's cannot be compared with it word for
    # word: it stays the model's (the user's words in front would mix two languages). A light
    # touch keeps the user's wording and order: all their tags lead, the model's add to them.
    light = profile.strength == "light"
    if body and (cross_language(language, original) or (not light and keeps_subject(join(body), original))):
        lead = list(pinned)
        body = _subject_first(body, original)
    else:
        # A light touch's lead: every user tag no unit of the model's says in its order (the
        # model may add words between them: "a classic red stop sign" says "a stop sign").
        lead = pinned + (_unsaid(subject, body) if light else _users_missing_tags(subject, body, original))
        repaired = True
        body = _without_restatement(body, lead)
    if not quality:
        quality = [t for t in split_tags(QUALITY_TAGS.default) if norm_key(t) not in seen]

    head = _head(quality, lead, fits)
    if head is None:
        return _cut_user_prompt(quality, lead + _holding(body, lead, keep), fits, keep)
    follows: dict[int, int] = {}
    prose = any(ENDS_TERMINATED.search(u) for u in body)
    if prose and not fits(head + body):
        # Prose that does not fit becomes the model's own phrases, which a fit can drop one by
        # one: whole sentences would go with every detail they hold.
        body, follows = _as_phrases(body, original)
        prose = False
    kept = fit(body, lambda parts: fits(head + parts), lambda parts: join(head + parts), original, profile,
               droppable=lambda i: not (prose and i == 0), drops=drops, follows=follows, keep=keep)
    model_units = body
    while not cross_language(language, original):
        # The model's units that carry the prompt do not all fit: the user's own tags for what
        # went lead as well (they are shorter), and the model's units share what is left. The
        # lead only grows, up to all of the user's tags, which carry everything. A light touch
        # asks the same of each tag as it did of the lead: a unit that says it in its order.
        if light:
            more = [t for t in _unsaid(subject, head + kept) if t not in lead]
        elif keeps_subject(join(head + kept), original):
            break
        else:
            more = [t for t in _users_missing_tags(subject, lead + kept, original) if t not in lead]
        if not more:
            break
        lead = pinned + [t for t in subject if t in lead or t in more]
        head = _head(quality, lead, fits)
        if head is None:
            return _cut_user_prompt(quality, lead + _holding(model_units, lead, keep), fits, keep)
        body = _without_restatement(model_units, lead)
        kept = fit(body, lambda parts: fits(head + parts), lambda parts: join(head + parts), original,
                   profile, drops=drops, keep=keep)
    out = head + kept
    # Stock tags fill what the rules' draft lacks, or what a thin answer lacks once a check has
    # had to repair it (thin judged on all the model wrote: compressed to fit is not thin); a
    # clean answer passes through as the model wrote it, led by quality tags.
    if not (rules or (profile.stock_phrases and repaired and thin(join(head + body), profile, counter))):
        return join(out)
    for phrase in missing_phrases(profile, original, join(out), skip=(QUALITY_TAGS,), language=language):
        for tag in split_tags(phrase):
            if norm_key(tag) not in {norm_key(p) for p in out} and fits(out + [tag]):
                out.append(tag)
    return join(out)


_PHRASE_REPAIRABLE = frozenset({"invented_person", "invented_animal", "off_picture"})


def _screened(unit: str, original: str, drops: list[Drop] | None, language: str | None) -> list[str]:
    """The unit as it may stay (`checks.screen`). An English sentence that must go for a person,
    an animal or a remark in one of its parts keeps its other phrases as tags: SDXL reads tags,
    and "carefully chisels the luminous silver marble" need not go with "his weathered hands"."""
    reason = why_dropped(unit, original, language)
    if reason not in _PHRASE_REPAIRABLE or not ENDS_TERMINATED.search(unit) or non_latin_runs(unit):
        kept = screen(unit, original, drops, language)
        return [kept] if kept else []
    out: list[str] = []
    head_kept = False
    for piece in phrases(unit):
        if piece.attached and not head_kept:
            record(drops, piece.text, reason)  # it modifies what went
            continue
        head_kept = screen(piece.text, original, drops, language) == piece.text
        if head_kept:
            out.append(piece.text)
    return out


_QUOTED_STOP = re.compile("[.!?\u2026]+([\"\u201d'\u2019])$")


def _as_phrases(body: list[str], original: str) -> tuple[list[str], dict[int, int]]:
    """The body with each English sentence split into its phrases (`phrases`), in the answer's
    order but for the piece that names the prompt's subject, which goes first (SDXL's pooled
    embedding sees the first window); a phrase that modifies another stays right behind it.
    Returns the pieces and, for each modifier, the index of the piece it modifies."""
    blocks: list[list[str]] = []
    for unit in body:
        if not ENDS_TERMINATED.search(unit) or non_latin_runs(unit):
            blocks.append([unit])
            continue
        for piece in phrases(unit):
            # A quotation that ended the sentence keeps its words, not the full stop inside it,
            # which would read as the end of a sentence and glue the next phrase on.
            text = _QUOTED_STOP.sub(r"\1", piece.text)
            if piece.attached and blocks:
                blocks[-1].append(text)
            else:
                blocks.append([text])
    subject = next((w for w in required_words(original)
                    if any(w in carried_words(b[0], original) for b in blocks)), None)
    opening = next((i for i, b in enumerate(blocks) if subject in carried_words(b[0], original)), 0)
    blocks.insert(0, blocks.pop(opening))
    pieces_out: list[str] = []
    follows: dict[int, int] = {}
    for block in blocks:
        start = len(pieces_out)
        pieces_out.extend(block)
        follows.update({start + k: start + k - 1 for k in range(1, len(block))})
    return pieces_out, follows


def _unsaid(subject: list[str], units: list[str]) -> list[str]:
    """The user's tags that no unit says in their order (a light touch's lead): "a classic red
    stop sign stands prominently" says "a stop sign"."""
    return [t for t in subject if not any(says_in_order(t, unit) for unit in units)]


def _users_missing_tags(subject: list[str], body: list[str], original: str) -> list[str]:
    """The user's tags to bring back in front: those that hold what the model's units lost (a
    word, a quotation or a weighted group), or all of them when the units hold none of it. A
    tag the model's text already carries would only spend the budget twice."""
    said = join(body)
    lost = set(missing_words(said, original))
    tags = [t for t in subject if carried_words(t, original) & lost or not keeps_subject(said, t)]
    return tags if tags and body else subject


def _head(quality: list[str], lead: list[str], fits: Callable[[list[str]], bool]) -> list[str] | None:
    """As many quality tags as fit in front of the user's words, or None when even one does not."""
    for q in range(len(quality), 0, -1) if quality else [0]:
        if fits(quality[:q] + lead):
            return quality[:q] + lead
    return None


def _cut_user_prompt(quality: list[str], subject: list[str], fits: Callable[[list[str]], bool],
                     keep: tuple[str, ...] = ()) -> str:
    """The user's prompt alone is over budget: one quality tag and as much of the subject as
    fits, cut between words, in the user's order. A tag that holds a kept term stays whole (or,
    when those tags together do not fit, the kept terms alone stay), and the cut falls before
    the last of them. It is compressed, never expanded."""
    lead = quality[:1] if quality and fits(quality[:1]) else []
    holders = [tag for tag in subject if any(term in tag for term in keep)]
    if not fits(lead + holders):
        subject = [tag for tag in subject if tag not in holders] + \
            [term for term in keep if any(term in tag for tag in holders)]
    held = [i for i, tag in enumerate(subject) if any(term in tag for term in keep)]
    out = list(lead)
    for i, tag in enumerate(subject):
        later = [subject[k] for k in held if k > i]
        if i in held or fits(out + [tag] + later):
            out.append(tag)
            continue
        cut = fitting_prefix(tag, lambda s: join(out + ([s.rstrip(" ,;:")] if s.rstrip(" ,;:") else []) + later),
                             lambda text: fits([text])).rstrip(" ,;:")
        return join(out + ([cut] if cut else []) + later)
    return join(out)


def _holding(units: list[str], lead: list[str], keep: tuple[str, ...]) -> list[str]:
    """For each kept term that the lead does not hold, the first of the units that holds it."""
    out: list[str] = []
    for term in keep:
        if not any(term in tag for tag in lead + out):
            out += [u for u in units if term in u][:1]
    return out


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
