"""A sentence of prose as phrases that read alone, for SDXL's comma-separated prompts.

The cuts come from clause punctuation (`clauses()` in text.py) and, inside a long clause, from
TextBlob's offline chunker (its wheel ships pattern's English lexicon: no data download). The
tagger errs ("chisels" as a plural noun), so its tags only choose where a cut may fall: every
piece stays a contiguous span of the sentence, and a cut that would leave a piece ending on "the"
or "of", or a piece without a thing of its own, is not made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from textblob.en import parser as _parser

from .text import clauses, find_spans, mask


@dataclass(frozen=True)
class Phrase:
    text: str  # the words as the model wrote them, less a leading joiner and trailing punctuation
    attached: bool  # a participle or verb phrase with no noun of its own: keep it after the one before


class _Token(NamedTuple):
    start: int
    end: int
    word: str  # lower case; a protected span is the placeholder "thing" (a noun to the tagger)
    is_word: bool  # not a mark
    noun: bool  # a thing of its own (not a pronoun): what makes a piece stand alone
    tag: str  # Penn tag
    chunk: str  # IOB chunk: B-NP, I-VP, ...
    pnp: str  # B-PNP / I-PNP: a preposition with its noun phrase
    finite: bool  # a verb with a tense: what makes a clause


Tokens = tuple[_Token, ...]
MAX_WORDS = 8  # a longer clause is cut further at phrase boundaries

# Numbers with a decimal point, words with inner hyphens or apostrophes ("sun-dappled", "don't"),
# "'s" on its own (the tagger reads it as a possessive), any other mark alone.
_WORD = re.compile(r"\d+(?:[.,:]\d+)+|\w+(?:-\w+)*(?:['\u2019](?![sS]\b)\w+)*|['\u2019][sS]\b|[^\w\s]")
# Removed from the start of a piece: they join it to the one before and mean nothing alone.
# "with" is not among them: "with a red scarf" reads alone.
_JOINERS = frozenset("and but or nor yet so then while whereas where when which who as if".split())
_CLAUSE_OPENERS = frozenset("while whereas where when as".split())
# A piece never ends on these: what they introduce or determine is in the next piece.
_ALWAYS_DANGLING = frozenset(
    "a an the and or but nor yet while whereas because although if as of to than that which whose "
    "my its their our your 's \u2019s".split()
)
# These end a phrase as particles or pronouns ("the camera zooms in", "hugging her"), and dangle
# when a word follows them: that word is their object.
_DANGLING_BEFORE_WORD = frozenset(
    "in on at with without for from by into onto over under above below beneath underneath behind beside "
    "between among amid amidst through throughout across along around toward towards upon within against "
    "near via like past beyond during after before until since about off out up down inside outside atop "
    "her his".split()
)
_SUBORDINATORS = frozenset("while as because although if than that whereas".split())  # tagged IN
# "of" and "to" bind to the words before them ("shafts of sunlight", "from dawn to dusk").
_NO_CUT_BEFORE = _SUBORDINATORS | {"of", "to"}
_FINITE = frozenset(("VBZ", "VBP", "VBD", "MD"))
_COPULAS = frozenset("is are was were be has have had remains remain seems seem appears appear becomes".split())
_COMMA_OPENS = ("DT", "PRP", "VB", "RB", "WRB")  # tags that open a new phrase after a comma
_MODIFIER = ("JJ", "VBN", "VBG", "RB", "CC", ",")
_OPENS_NP = ("DT", "PRP$", "POS", "IN", "TO")
_CONTINUES_NP = ("JJ", "VBN", "VBG", "NN", "RB", "CD")
_NP_START = ("DT", "PRP$", "JJ", "NN", "CD")
_LIST_ITEM = ("DT", "PRP$", "CD", "JJ", "VBN", "VBG", "NN", "CC", ",")  # "and winding paths"


def _nominal(tag: str) -> bool:  # a noun or a pronoun
    return tag.startswith(("NN", "CD", "FW")) or tag == "PRP"


def _parse(sentence: str) -> tuple[Tokens, str]:
    """The sentence's tokens, a protected span (weights, quotes) one token; and the sentence with
    those spans blanked and its unpaired marks gone, at the same offsets: what `clauses()` may cut."""
    _, unpaired = find_spans(sentence)
    paired = "".join(" " if i in unpaired else c for i, c in enumerate(sentence)) if unpaired else sentence
    spans, _ = find_spans(paired)
    found: list[tuple[int, int, str]] = []
    position = 0
    for start, end in [*spans, (len(sentence), len(sentence))]:
        found += [(m.start(), m.end(), m.group()) for m in _WORD.finditer(sentence, position, start)]
        if end > start:
            found.append((start, end, "thing"))
        position = end
    if not found:
        return (), paired
    # One parse per sentence, on our own tokens, so that every tag maps back to an offset.
    # lemmata=True raises NameError in textblob 0.20.1; collapse=False: lists, not a tagged string.
    one_sentence = [[w for _, _, w in found]]
    tagged = _parser.parse(one_sentence, tokenize=False, chunks=True, lemmata=False, collapse=False)[0]
    tags = ["", *(tag for _, tag, _, _ in tagged), ""]

    def finite(k: int) -> bool:  # k: the token's index in `tags`
        before, tag, after = tags[k - 1], tags[k], tags[k + 1]
        # A base form after a noun and before none is a present tense the tagger missed ("trees
        # lining the bridge sway gently"); elsewhere it is often a noun ("cherry blossom tree").
        if tag == "VB":
            return _nominal(before) and not after.startswith("NN")
        # A past tense before its noun is a participle: "a cozy, dimly lit coffee shop".
        if tag == "VBD" and after.startswith(("NN", "JJ")) and before.startswith(("RB", "DT", "JJ", "PRP$", ",")):
            return False
        return tag in _FINITE

    out = []
    for k, ((s, e, w), (_, tag, chunk, pnp)) in enumerate(zip(found, tagged), 1):
        is_word = len(w) > 1 or w.isalnum()  # _WORD gives each mark a token of one character
        out.append(_Token(s, e, w.lower(), is_word, tag[:2] in ("NN", "CD", "FW"), tag, chunk, pnp, finite(k)))
    return tuple(out), mask(paired, spans)


def _trim(toks: Tokens, i: int, j: int) -> tuple[int, int]:
    """The range without its leading marks and joiners and its trailing marks."""
    while i < j and (not toks[i].is_word or toks[i].word in _JOINERS):
        i += 1
    while j > i and not toks[j - 1].is_word:
        j -= 1
    return i, j


def _dangles(toks: Tokens, j: int) -> bool:
    """Whether a piece ending before token j ends on a word that needs the next piece."""
    last, word_follows = toks[j - 1].word, j < len(toks) and toks[j].is_word
    if last in _ALWAYS_DANGLING or (last in _DANGLING_BEFORE_WORD and word_follows):
        return True
    # An open noun phrase ("on the tender | leaves", "a warm, | inviting atmosphere"): modifiers back
    # to a determiner or preposition, not to a verb ("is serene and timeless"). After a comma what
    # follows must go on with it: not "the setting, from" nor "a deep azure, adding a touch".
    rest = [t.tag for t in toks[j : j + 3] if t.is_word] + [""]
    goes_on = rest[0].startswith(_CONTINUES_NP) and not (
        rest[0] in ("VBG", "VBN") and not rest[1].startswith(("NN", "JJ", "VB"))
    )
    if j == len(toks) or not (word_follows or goes_on):
        return False
    k = j - 1
    while k >= 0 and toks[k].tag.startswith(_MODIFIER):
        k -= 1
    return j - 1 > k >= 0 and toks[k].tag.startswith(_OPENS_NP)


def _stands_alone(toks: Tokens, i: int, j: int) -> bool:
    # A thing of its own: not only function words or a pronoun ("beside it"), an adverb, a bare
    # verb or adjectives, whose thing is in the piece before ("..., looking lost and contemplative").
    return any(t.noun for t in toks[i:j])


def _after_np(toks: Tokens, k: int) -> _Token | None:
    """The token after the noun phrase chunk that starts at k, if one does."""
    if k < len(toks) and toks[k].chunk == "B-NP":
        return next((t for t in toks[k + 1 :] if t.chunk != "I-NP"), None)
    return None


def _words(toks: Tokens, i: int, j: int) -> int:
    return sum(t.is_word for t in toks[i:j])


def _rank(toks: Tokens, i: int, j: int, k: int, verbs: list[int]) -> int | None:
    """How good a cut before token k of the piece i..j is (lower is better), None if no cut.
    `verbs`: the piece's finite verbs, in order."""
    t, prev, after = toks[k], toks[k - 1], _after_np(toks, k + 1)
    verb_before, verb_follows = bool(verbs) and verbs[0] < k, bool(verbs) and verbs[-1] >= k
    # A comma that opens a phrase: "..., a sculptor", "..., worn and dusted", "..., others with
    # steaming cups". Not one between adjectives (`_dangles` sees "a warm, inviting") or the items
    # of a subject ("fish, whales, sea turtles and sharks swim"): a new subject follows a clause.
    if prev.word == ",":
        own = _after_np(toks, k)
        own_phrase = own is not None and (
            (own.pnp == "B-PNP" and own.word not in _SUBORDINATORS)
            or (own.chunk == "B-VP" and verb_before)
        )
        opens = t.tag.startswith(_COMMA_OPENS) or (t.pnp == "B-PNP" and t.word not in _NO_CUT_BEFORE)
        return -1 if opens or own_phrase else None
    # "while" and "as" open a clause after any phrase, if a subject and its verb follow ("while
    # waves crash", not "as a symbol"); "and" and "but" join two clauses, or two verbs of one
    # subject ("wear a backpack and carry a bag"), only after a verb.
    if t.word in ("while", "as"):
        return 0 if after is not None and after.chunk == "B-VP" else None
    if t.word in ("and", "but"):
        joins = (after is not None and after.chunk == "B-VP") or (k + 1 < j and toks[k + 1].finite)
        return 0 if joins and verb_before else None
    # B-PP before an unchunked noun phrase ("under a large, ..."), not a particle ("zooms in to")
    preposition = t.word not in _NO_CUT_BEFORE and (
        t.pnp == "B-PNP" or (t.chunk == "B-PP" and k + 1 < j and toks[k + 1].tag.startswith(_NP_START))
    )
    if prev.noun or prev.tag == "PRP":
        # A participle or a preposition after a noun phrase modifies it, unless a verb follows
        # in the piece: then that noun phrase is its subject ("the ground beneath the flowers is").
        if t.tag in ("VBG", "VBN") and t.chunk == "B-VP" and not verb_follows:
            return 1
        if preposition and not verb_follows:
            return 2
        # Subject and predicate of a long clause: "the sound of the river and the rustling leaves |
        # create a serene ambiance"; not "They | sit", a copula ("is a blend") or after a verb.
        verb = toks[k + 1] if t.tag.startswith("RB") and k + 1 < j else t
        subject = t.chunk.startswith("B-") and prev.tag != "PRP" and not verb_before
        if verb.finite and verb.word not in _COPULAS and subject and _words(toks, i, k) >= 4:
            return 4 if _words(toks, i, j) > 12 else None
        return None
    # A clause ends at a verb or its adverb before a place: "a bicycle ... leans gently | against
    # a towering oak tree"; not where the phrase completes a passive ("is filled with").
    ends_clause = prev.tag.startswith(("VB", "RB")) and prev.tag != "VBN" and verb_before
    return 3 if preposition and ends_clause and not verb_follows else None


def _split(toks: Tokens, i: int, j: int) -> list[tuple[int, int]]:
    """A long piece cut at its best boundary (the best kind, then the most even), again and again
    while a part is long; a cut is made only where both parts stand alone and none dangles."""
    i, j = _trim(toks, i, j)
    if i == j:
        return []
    best: tuple[int, int, int] | None = None
    verbs = [k for k in range(i, j) if toks[k].finite]
    for k in range(i + 1, j) if _words(toks, i, j) > MAX_WORDS else ():
        if (rank := _rank(toks, i, j, k, verbs)) is None:
            continue
        (a, b), (c, d) = _trim(toks, i, k), _trim(toks, k, j)
        if a == b or c == d or _dangles(toks, b):
            continue
        if _stands_alone(toks, a, b) and _stands_alone(toks, c, d):
            score = (rank, max(_words(toks, a, b), _words(toks, c, d)), k)
            best = score if best is None else min(best, score)
    return [(i, j)] if best is None else _split(toks, i, best[2]) + _split(toks, best[2], j)


def _mend(toks: Tokens, pieces: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Joins a piece that ends dangling to the next, and one that does not stand alone or ends a
    list ("blues, and greens") to the one before (a leading one to the one after); the last piece
    drops its dangling words."""
    out: list[tuple[int, int]] = []
    for a, b in pieces:
        tail = a > 0 and toks[a - 1].word in ("and", "or") and all(
            t.tag.startswith(_LIST_ITEM) for t in toks[a:b]
        )
        if out and (tail or _dangles(toks, out[-1][1]) or not _stands_alone(toks, a, b)):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    if len(out) > 1 and not _stands_alone(toks, *out[0]):
        out[:2] = [(out[0][0], out[1][1])]
    if out:
        a, b = out[-1]
        while b > a and (not toks[b - 1].is_word or _dangles(toks, b)):
            b -= 1
        out[-1] = (a, b)
    return [(a, b) for a, b in out if b > a and _stands_alone(toks, a, b)]


def _attached(toks: Tokens, a: int, b: int) -> bool:
    # Headed by a verb ("casting long shadows", "exude warmth"), not by a participle that is its
    # noun's adjective: a verb follows ("flickering lights dance"), or it opens a clause, where a
    # subject is due ("while floating lanterns drift lazily").
    head = next((k for k in range(a, b) if not toks[k].tag.startswith("RB")), a)
    tag, nxt = toks[head].tag, toks[head + 1].tag if head + 1 < b else ""
    opens_clause = toks[a - 1].word in _CLAUSE_OPENERS
    adjective = any(t.finite for t in toks[head + 1 : b]) or (opens_clause and nxt.startswith(("NN", "JJ")))
    return tag.startswith("VB") and not (tag in ("VBG", "VBN") and adjective)


@lru_cache(maxsize=1024)
def _phrases(sentence: str) -> tuple[Phrase, ...]:
    toks, blanked = _parse(sentence)
    ranges: list[tuple[int, int]] = []
    offset = 0
    for clause in clauses(blanked):
        end = offset + len(clause)  # clauses() returns consecutive slices of the sentence
        inside = [k for k, t in enumerate(toks) if offset <= t.start < end]
        if inside and (trimmed := _trim(toks, inside[0], inside[-1] + 1))[0] < trimmed[1]:
            ranges.append(trimmed)
        offset = end
    # clauses() also cuts inside "a warm, inviting atmosphere": mend those before cutting further.
    pieces = [piece for i, j in _mend(toks, ranges) for piece in _split(toks, i, j)]
    return tuple(
        Phrase(sentence[toks[a].start : toks[b - 1].end], n > 0 and _attached(toks, a, b))
        for n, (a, b) in enumerate(_mend(toks, pieces))
    )


def phrases(sentence: str) -> list[Phrase]:
    """The sentence as pieces that read alone, in the sentence's order."""
    return list(_phrases(sentence))


_phrases("Warm the tagger's lexicon.")  # it loads lazily (~0.1 s): pay that at import, not per request
