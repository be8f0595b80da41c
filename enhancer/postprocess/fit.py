"""The fit: which whole units an over-budget answer drops, by what they carry.

Both families drop units from the bottom of one ranking: a unit that holds a kept term
(`keep.py`: the caller's terms, the prompt's quotations, weights and network tags) goes last, then
one that alone carries a word of the prompt, then one that carries any prompt word (the subject), then the only holder of a
required element of the profile, earlier elements in the profile's order (the seed's: quality
tags > subject > lighting > technical > style) outranking later ones, then the rest; within a
rank the later unit goes first, and the units kept keep their order. Every drop is recorded with
its reason, so the change report and `--replay` can say what went and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..profiles import Profile
from ..subject import carried_words
from .stock import lacks


@dataclass(frozen=True)
class Drop:
    """A unit of the model's answer that the final prompt does not hold, and why."""

    text: str
    reason: str  # over_budget, invented_person, invented_animal, off_picture, other_language, repetition


def record(drops: list[Drop] | None, text: str, reason: str) -> None:
    if drops is not None and all(d.text != text for d in drops):
        drops.append(Drop(text, reason))


# Ranks, highest kept longest.
_HOLDS_KEPT_TERM = 4
_ALONE_CARRIES_PROMPT_WORD = 3
_CARRIES_PROMPT_WORD = 2
_ONLY_HOLDER_OF_ELEMENT = 1
_REST = 0


def rank(unit: str, rest: str, original: str, profile: Profile, keep: tuple[str, ...] = ()) -> tuple[int, int]:
    """How much the answer needs `unit` beside `rest` (the text of everything else kept): a
    rank, then, among the holders of an element, how early the element comes in the profile.
    `keep`: the kept terms, verbatim."""
    if any(term in unit for term in keep):
        return (_HOLDS_KEPT_TERM, 0)
    carried = carried_words(unit, original)
    if carried - carried_words(rest, original):
        return (_ALONE_CARRIES_PROMPT_WORD, 0)
    if carried:
        return (_CARRIES_PROMPT_WORD, 0)
    for position, element in enumerate(profile.required):
        if lacks(element, rest) and not lacks(element, unit):
            return (_ONLY_HOLDER_OF_ELEMENT, len(profile.required) - position)
    return (_REST, 0)


def fit(units: list[str], fits: Callable[[list[str]], bool], render: Callable[[list[str]], str],
        original: str, profile: Profile, droppable: Callable[[int], bool] = lambda i: True,
        drops: list[Drop] | None = None,
        follows: dict[int, int] | None = None, keep: tuple[str, ...] = ()) -> list[str]:
    """The units without the lowest-ranked ones, dropped one at a time until `fits(kept)`;
    then what went comes back, the last to go first, where it still fits.

    `droppable(i)`: whether the unit at index i of `units` may go at all (a prompt's own first
    sentence may not). `follows`: unit index -> the index of the unit it modifies (a participle
    phrase after its noun phrase): it may go alone, but goes with that unit. `render` makes
    the text of a list of units, for `rank`; `keep`: the kept terms (`rank`)."""
    follows = follows or {}
    alive = list(range(len(units)))
    dropped: list[list[int]] = []  # what went, one drop at a time
    while alive and not fits([units[i] for i in alive]):
        candidates = [i for i in alive if droppable(i)] or alive[1:] or alive

        def priority(i: int) -> tuple[tuple[int, int], int]:
            # A unit goes with its modifiers, so it ranks as the most needed of them.
            block = [i] + [j for j in alive if follows.get(j) == i]
            rest = render([units[j] for j in alive if j not in block])
            return (max(rank(units[j], rest, original, profile, keep) for j in block), -i)

        victim = min(candidates, key=priority)
        gone = sorted({victim} | {i for i, head in follows.items() if head == victim and i in alive})
        dropped.append(gone)
        alive = [i for i in alive if i not in gone]
    # What went last was needed most: each unit of it that fits beside what stayed comes back (a
    # short phrase that had to go before a long one that could not stay).
    for gone in reversed(dropped):
        for i in gone:
            if follows.get(i) in alive or i not in follows:
                trial = sorted(alive + [i])
                if fits([units[j] for j in trial]):
                    alive = trial
    for gone in dropped:
        for i in gone:
            if i not in alive:
                record(drops, units[i], "over_budget")
    return [units[i] for i in alive]
