"""WAN 2.1: prose in whole sentences, within the budget, trusting the model's own sentences.

Only what a check finds broken is repaired: a sentence that invents a person or an animal,
talks of what cannot be seen, or breaks the answer's one language goes whole; the user's words
open the prompt only when the answer no longer carries the subject; a stock sentence is added
only for an element the answer lacks and never where it contradicts it; over the budget, whole
sentences go, lowest priority first.
"""

from __future__ import annotations

from typing import Callable

from ..profiles import Profile
from ..tokens import TokenCounter
from .checks import distinct, in_language, keeps_subject, off_picture
from .stock import lacks, missing_phrases, thin
from .text import clauses, fitting_prefix, norm_key, sentences, terminate


def optimize_wan(text: str, original: str, profile: Profile, counter: TokenCounter, rules: bool = False) -> str:
    written = sentences(text)
    model = [s for s in sentences(text, drop_dangling=True)
             if not off_picture(s, original) and in_language(s, original)]
    model = distinct(model, original)
    lead: list[str] = []
    if not (model and keeps_subject(" ".join(model), original)):
        # The model lost the subject (or said nothing): the user's own words open the prompt.
        lead = sentences(original)
    body: list[str] = []
    seen: set[str] = set()
    for sentence in lead + model:
        if norm_key(sentence) not in seen:
            seen.add(norm_key(sentence))
            body.append(sentence)
    body = distinct(body, original)
    # Stock sentences fill what the rules' draft lacks, or what a thin answer lacks once a check
    # has had to repair it; a clean answer passes through as the model wrote it.
    repaired = bool(lead) or len(model) < len(written)
    fill = rules or (repaired and thin(" ".join(body), profile, counter))
    return _pack(body, len(lead), original, profile, counter, fill)


def _pack(body: list[str], pinned: int, original: str, profile: Profile, counter: TokenCounter,
          fill: bool) -> str:
    """The sentences that fit, then, with `fill`, stock sentences for what they lack while
    they fit.

    Over the budget the sentence of lowest priority goes first: never the first (it opens on
    the subject) nor the user's own (`pinned`), and before the others, one whose required
    elements another sentence also has, the later the sooner."""
    def fits(prose: str) -> bool:
        return counter.count(prose) <= profile.budget

    kept = list(body)
    while len(kept) > 1 and not fits(" ".join(kept)):
        kept.pop(_lowest_priority(kept, max(pinned, 1), original, profile))
    if kept and not fits(" ".join(kept)):
        kept = [_shorten(kept[0], fits)] if _shorten(kept[0], fits) else []
    out = " ".join(kept)
    if not fill:
        return out
    for phrase in missing_phrases(profile, original, out):
        if fits(f"{out} {phrase}".strip()):
            out = f"{out} {phrase}".strip()
    return out


def _lowest_priority(kept: list[str], first_droppable: int, original: str, profile: Profile) -> int:
    candidates = range(first_droppable, len(kept)) if first_droppable < len(kept) else range(1, len(kept))

    def priority(i: int) -> tuple[int, int, int]:
        rest = " ".join(kept[:i] + kept[i + 1:])
        needed_for_subject = not keeps_subject(rest, original)
        only_holder = sum(lacks(e, rest) and not lacks(e, kept[i]) for e in profile.required)
        return (needed_for_subject, only_holder, -i)

    return min(candidates, key=priority)


def _shorten(sentence: str, fits: Callable[[str], bool]) -> str:
    """A sentence too long for the whole budget, cut after its last clause that fits; between
    words only when not even its first clause does."""
    parts = clauses(sentence)
    for k in range(len(parts) - 1, 0, -1):
        cut = terminate("".join(parts[:k]))
        if fits(cut):
            return cut
    cut = fitting_prefix(sentence, terminate, fits)
    return terminate(cut) if cut.strip(" ,;:") else ""
