"""The per-row checks of `--replay` (enhancer/replay.py): pure functions of the prompt, the
model's raw and cleaned answer and the final one, each naming one way the worker can turn a good
answer into a worse one."""

from __future__ import annotations

import re

from .detect import invents_person, is_non_english, non_latin_runs
from .postprocess.checks import unseen
from .postprocess.stock import is_drawn, is_still
from .postprocess.text import sentences, split_tags, units_of
from .profiles import CAMERA, MOTION, QUALITY_TAGS, STOCK_PHRASES, VIDEO_QUALITY
from .subject import carries_subject, stem
from .tokens import TokenCounter

_WORDS = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
# A piece shorter than this may be said twice by chance; a longer one is a cut-off piece.
_MIN_FRAGMENT_WORDS = 4
_PIECE_BREAK = re.compile(r"[,;:\u2013\u2014]|\s-\s")
_QUALITY_TAG_WORDS = frozenset(t.strip().lower() for t in QUALITY_TAGS.default.split(","))
# Words that leave a phrase waiting for what follows: an SDXL piece ending on one does not read alone.
_OPEN_ENDED = frozenset(
    "a an the and or but nor of to in on at with for from by as into onto over under through across "
    "my your his her its our their whose".split()
)
_POSSESSIVE = ("'s", "\u2019s")
# After a verb of movement or light, these end a phrase as adverbs, not as prepositions waiting
# for an object: "the camera zooms in", "clouds drifting by", "sunlight filters through".
_PARTICLES = frozenset("in on by through over".split())
_PARTICLE_VERBS = frozenset(stem(w) for w in (
    "zoom pan tilt filter drift stream pour float peek seep flow pass blow roll fly flies".split()))
# A piece that ends in a quotation is the quoted text as written ("a sign saying 'Keep to'").
_ENDS_IN_QUOTE = re.compile("[\"'\u201d\u2019]$")


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORDS.findall(text)]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def _without_quality_tags(answer: str) -> str:
    tags = [t.strip() for t in answer.split(",")]
    while tags and tags[0].lower() in _QUALITY_TAG_WORDS:
        tags.pop(0)
    return ", ".join(tags)


def model_units(text: str) -> list[str]:
    """The model's units: the tags of a tag answer, else its sentences."""
    out: list[str] = []
    for sentence in sentences(text):
        out.extend(units_of(sentence))
    return out


def fragments(cleaned: str, answer: str, prompt: str, cut: tuple[str, ...] = ()) -> list[str]:
    """Model units cut into pieces: the answer holds a run of a unit's comma-separated pieces
    (four words or more, not the whole unit) outside the units it keeps whole, and the run is
    not just the user's own words. A unit whose off-picture remark was cut at a clause boundary
    (`cut`: the remarks, from the answer's drops) is a repaired sentence, not a fragment."""
    tails = [_words(c) for c in cut if _words(c)]
    units = [u for u in model_units(cleaned)
             if not any(_words(u)[-len(t):] == t for t in tails)]
    said = _words(answer)
    whole = set()
    for unit in units:
        words = _words(unit)
        for i in range(len(said) - len(words) + 1):
            if words and said[i:i + len(words)] == words:
                whole.add(unit)
                said[i:i + len(words)] = ["|"] * len(words)  # kept whole: not a source of pieces
                break
    users = _words(prompt)
    found = []
    for unit in units:
        if unit in whole:
            continue
        parts = [_words(p) for p in _PIECE_BREAK.split(unit)]
        runs = (sum(parts[i:j], []) for i in range(len(parts)) for j in range(i + 1, len(parts) + 1)
                if (i, j) != (0, len(parts)))
        if any(len(run) >= _MIN_FRAGMENT_WORDS and _contains(said, run) and not _contains(users, run)
               for run in runs):
            found.append(unit)
    return found


def restated(cleaned: str, answer: str, prompt: str) -> bool:
    """The worker put the user's words in front (right after SDXL's quality tags) of an answer
    whose own text already carries the subject."""
    head = _words(prompt)
    rest = _words(_without_quality_tags(answer))
    if not head or rest[: len(head)] != head or _words(cleaned)[: len(head)] == head:
        return False
    remainder = " ".join(rest[len(head):])
    return bool(remainder) and carries_subject(remainder, prompt)


def added_stock(raw: str, answer: str) -> list[str]:
    """Stock phrases the worker added, SDXL's quality tags aside (every SDXL answer gets them)."""
    return [p for p in STOCK_PHRASES if p in answer and p not in raw and p != QUALITY_TAGS.default]


def contradicting_stock(raw: str, answer: str, prompt: str) -> list[str]:
    """Stock phrases the worker added that contradict the prompt or the model's answer: motion
    for a still picture, a lens or "realistic footage" for a drawn, painted, animated or CG look."""
    context = f"{prompt}\n{raw}"
    bad = []
    for phrase in added_stock(raw, answer):
        if phrase == MOTION.default and is_still(context):
            bad.append(phrase)
        if phrase in (VIDEO_QUALITY.default, CAMERA.default) and is_drawn(context):
            bad.append(phrase)
    return bad


def ends_in_stock(answer: str) -> bool:
    tail = answer.rstrip()
    return any(tail.endswith(p) or tail.endswith(p.rstrip(".")) for p in STOCK_PHRASES)


def stray_script(answer: str, prompt: str) -> bool:
    """A word in another script in the answer to an English prompt (not the user's own)."""
    if is_non_english(prompt):
        return False
    own = " ".join(non_latin_runs(prompt))
    return any(run not in own for run in non_latin_runs(answer))


def mixed_language(answer: str, prompt: str) -> bool:
    """An answer to a prompt in another script that holds a sentence of English too."""
    if not is_non_english(prompt):
        return False
    units = sentences(answer)
    native = any(non_latin_runs(u) for u in units)
    latin = any(not non_latin_runs(u) and len(_words(u)) >= 2 for u in units)
    return native and latin


def kept_whole_eligible(cleaned: str, raw: str, prompt: str, counter: TokenCounter, budget: int) -> bool:
    """A clean video answer within budget, without a person the prompt lacks or a sound: the
    worker has nothing to repair in it."""
    return (" ".join(cleaned.split()) == " ".join(raw.split())
            and counter.count(cleaned) <= budget
            and not invents_person(cleaned, prompt)
            and not any(unseen(s, prompt) for s in sentences(cleaned))
            and not stray_script(cleaned, prompt))


def _ends_clause_in(piece: str, source: str) -> bool:
    """The piece is written in the source where a clause ends (before punctuation or the end):
    "Boats sail by." ends on a particle as the model wrote it, not on a cut."""
    flat = " ".join(piece.split()).lower()
    return re.search(re.escape(flat) + r"[\"'\u201d\u2019)]*\s*(?:[,;:.!?\u2026]|$)",
                     " ".join(source.split()).lower()) is not None


def dangling_pieces(answer: str, source: str = "") -> list[str]:
    """The comma-separated pieces of an SDXL answer whose last word is a preposition, article,
    conjunction or possessive ("sitting with", "the cat's"): a phrase cut before its object. A
    quotation, a particle after a verb of movement ("the camera zooms in") and a piece that ends
    a clause of `source` (the model's text and the prompt) as it was written end a phrase whole."""
    out = []
    for piece in split_tags(answer):
        words = _words(piece)
        if not words or _ENDS_IN_QUOTE.search(piece) or (source and _ends_clause_in(piece, source)):
            continue
        last, before = words[-1], words[-2] if len(words) > 1 else ""
        if last in _PARTICLES and stem(before) in _PARTICLE_VERBS:
            continue
        if last in _OPEN_ENDED or last.endswith(_POSSESSIVE):
            out.append(piece)
    return out
