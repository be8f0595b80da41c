"""WAN 2.1: prose in whole sentences, within the budget, trusting the model's own sentences.

Only what a check finds broken is repaired: a sentence that invents a person or an animal,
talks of what cannot be seen, or breaks the answer's one language goes whole; the user's words
open the prompt only when the answer no longer carries the subject; a stock sentence is added
only for an element the answer lacks and never where it contradicts it; over the budget, whole
sentences go, lowest priority first.
"""

from __future__ import annotations

import re
from typing import Callable, Sequence

from ..detect import non_latin_runs
from ..profiles import Profile
from ..subject import carried_words, missing_words, says_in_order
from ..tokens import TokenCounter
from .checks import distinct, keeps_subject, screen
from .fit import Drop, fit, record
from .keep import KeptTerm, Placed
from .language import cross_language
from .stock import missing_phrases, thin
from .text import capitalize, clauses, fitting_prefix, norm_key, sentences, split_tags, terminate


def optimize_wan(text: str, original: str, profile: Profile, counter: TokenCounter, rules: bool = False,
                 drops: list[Drop] | None = None, language: str | None = None,
                 keep: Sequence[KeptTerm] = (), force: bool = False) -> str:
    """`keep`: terms the prompt must hold verbatim (`keep.py`); those the text lacks open it as
    one sentence, network tags end it (`keep.Placed`)."""
    # A caller's term that stands as a sentence of its own opens the prompt, wherever a pass left
    # it; one the model wove into a sentence of its own stays in that sentence.
    for term in keep:
        if term.kind == "asked" and term.text not in original:
            text = re.sub(rf"(?:^|(?<=[.!?]))\s*{re.escape(term.text)}\.(?:\s+|$)", " ", text).strip()
    placed = Placed(text, original, keep, counter, " ".join, force)
    return placed.finish(_optimize(placed.text, original, profile, placed.counter, rules, drops, language,
                                   placed.pinned, tuple(t.text for t in keep)))


def _optimize(text: str, original: str, profile: Profile, counter: TokenCounter, rules: bool,
              drops: list[Drop] | None, language: str | None, pinned: list[str], keep: tuple[str, ...]) -> str:
    written = sentences(text)
    model = []
    for sentence in sentences(text, drop_dangling=True):
        kept = screen(sentence, original, drops, language)
        if kept:
            model.append(kept)
    unrepeated = distinct(model, original)
    for sentence in model:
        if sentence not in unrepeated:
            record(drops, sentence, "repetition")
    model = unrepeated
    lead: list[str] = []
    # An answer in another language than the prompt's cannot be compared with it word for
    # word: it stays the model's (the user's words in front would mix two languages). A light
    # touch keeps the user's wording and order: unless the model's sentences say the user's
    # words in their order, the user's sentences open it and the model's add to them.
    light = profile.strength == "light"
    held = says_in_order(original, " ".join(model)) if light else keeps_subject(" ".join(model), original)
    if not (model and (cross_language(language, original) or held)):
        # The model lost a word of the prompt (or said nothing): the user's own words open the
        # prompt, where WAN's encoder and a reader meet the request as it was made.
        lead = sentences(original)
        short = _lost_pieces(original, model)
        # Where the whole prompt would push a sentence of the model's out, only the user's
        # parts that hold what the model lost come back.
        if short and model and not light and not _fits(lead + model, profile, counter) and _fits(short + model, profile, counter):
            lead = short
    opening = [terminate(", ".join(pinned))] if pinned else []
    body: list[str] = []
    seen: set[str] = set()
    for sentence in opening + lead + model:
        if norm_key(sentence) not in seen:
            seen.add(norm_key(sentence))
            body.append(sentence)
    body = distinct(body, original)
    # Stock sentences fill what the rules' draft lacks, or what a thin answer lacks once a check
    # has had to repair it; a clean answer passes through as the model wrote it.
    repaired = bool(lead) or len(model) < len(written)
    fill = rules or (profile.stock_phrases and repaired and thin(" ".join(body), profile, counter))
    return _pack(body, len(opening) + len(lead), original, profile, counter, fill, drops, language, keep)


def _fits(parts: list[str], profile: Profile, counter: TokenCounter) -> bool:
    return counter.count(" ".join(parts)) <= profile.budget


def _lost_pieces(original: str, model: list[str]) -> list[str]:
    """The user's own comma-separated parts that hold the words the model's sentences lost, as
    one sentence; [] when the prompt is one part (or not in English): nothing shorter to bring."""
    parts = split_tags(original)
    if len(parts) < 2 or non_latin_runs(original):
        return []
    lost = set(missing_words(" ".join(model), original))
    chosen = [p for p in parts if carried_words(p, original) & lost]
    return [capitalize(terminate(", ".join(chosen)))] if chosen else []


def _pack(body: list[str], pinned: int, original: str, profile: Profile, counter: TokenCounter,
          fill: bool, drops: list[Drop] | None, language: str | None = None, keep: tuple[str, ...] = ()) -> str:
    """The sentences that fit (`fit.fit`: never the first, which opens on the subject, nor the
    user's own, `pinned`), then, with `fill`, stock sentences for what they lack while they fit."""
    def fits(prose: str) -> bool:
        return _fits([prose], profile, counter)

    def render(parts: list[str]) -> str:
        return " ".join(parts)

    kept = fit(body, lambda parts: len(parts) <= 1 or fits(render(parts)), render, original, profile,
               droppable=lambda i: i >= max(pinned, 1), drops=drops, keep=keep)
    if kept and not fits(render(kept)):
        short = _shorten(kept[0], fits)
        record(drops, kept[0], "over_budget")
        kept = [short] if short else []
    out = render(kept)
    if not fill:
        return out
    for phrase in missing_phrases(profile, original, out, language=language):
        if fits(f"{out} {phrase}".strip()):
            out = f"{out} {phrase}".strip()
    return out


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
