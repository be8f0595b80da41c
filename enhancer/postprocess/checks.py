"""Verify: the checks that decide what of a model's answer must be repaired.

Each is a pure function of a unit of text (a tag or a sentence) and the user's prompt. A unit
that fails one is dropped whole, except that `repair_off_picture` cuts the off-picture clauses
off a sentence that still carries the prompt; nothing else here rewrites text.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ..detect import redundant_sentences
from ..subject import asks_for_person, carried_words, carries_subject, content_words, invents_animal, mentions_person
from .fit import Drop, record
from .language import in_language
from .text import clauses, meaningful, norm_key, sentences, structure, terminate

# What a camera cannot see: wishes, plans, thoughts, the future, the meaning of the scene, and
# the senses other than sight. A prompt describes what is in the frame; these sentences only
# spend the budget (and a small model writes them by the paragraph: "They're going to win.
# This is a creative way to express joy. Every breath is a precious gift.").
_UNSEEN = re.compile(
    r"(?<![\w'\u2019])(?:"
    r"loves?|loved|likes|liked|enjoy(?:s|ed|ing)?|wants?|wanted|hopes?|hoped|dreams?\s+(?:of|about)|"
    r"believes?|believed|knows?|knew|thinks?|thought|remembers?|remembered|"
    # Wondering, not "a look of wonder": that one shows on a face.
    r"wonders?\s+(?:if|whether|what|why|how|about)|wondered|wondering|"
    r"decides?|decided|plans?\s+to|planning|"
    r"(?:is|are|am|was|were|\w+['\u2019](?:re|s|m))\s+going\s+to|tomorrow|next\s+(?:project|time|day|week)|"
    r"project|task|importance\s+of|testament\s+to|symbol\s+of|metaphor|reminder\s+of|"
    # Inspiring someone, not how a thing looks: "awe-inspiring", "anime-inspired architecture"
    # and "inspired by Monet" describe the picture and its style.
    r"(?<!awe[-\s])inspir(?:e|es|ing|ation)|the\s+goal|aims?\s+to|for\s+(?:many\s+|several\s+)?(?:years|decades)|"
    r"years\s+ago|"
    r"precious\s+gift|memory|memories|in\s+(?:their|his|her|our|the)\s+(?:hearts?|minds?)|"
    r"(?:way|tool)\s+(?:for|to)\s+(?:express|convey|tell|share|inspire)\w*|"
    # A sound stage is a place, and can be seen.
    r"sounds?(?!\s+stages?)|soundscapes?|smells?|scents?|aromas?|tastes?|noises?|"
    # Talk about the content, its history or its use ("This type of content has been used in
    # many different ways throughout history"); "a history museum" is a picture, so "history"
    # alone is not a mark.
    r"(?:this|that|these|those|such)\s+(?:type|kind|sort|form)s?\s+of|"
    r"throughout\s+(?:history|the\s+ages|time)|"
    r"(?:has|have|had)\s+(?:long\s+)?been\s+used|(?:is|are)\s+(?:often|commonly|widely|typically)\s+used|"
    r"in\s+(?:many|various|countless)\s+(?:different\s+)?ways|"
    # A life story and a verdict on the work in place of the picture: "He had a passion for
    # fishing and spent years perfecting his craft. His story inspired him... This creative piece
    # showcases the beauty of nature and the human spirit."
    r"passion\s+for|(?:spent|spends|spending)\s+(?:\w+\s+)?(?:years|decades|months|a\s+lifetime)|"
    r"(?:his|her|their|its|whose)\s+(?:life\s+)?story|inspired\s+(?:him|her|them|us|me|people)|"
    r"showcas\w*\s+the\s+beauty|the\s+human\s+spirit|"
    r"(?:this|the)\s+(?:creative|art|artistic)\s+(?:piece|work)|game[-\s]changer|"
    # A pronoun with a modal or a plan: "They need to choose...", "You might consider...", and
    # the speculation that replaces a description: "This could be a rabbit."
    r"(?:they|he|she|you|we|i|it|this|these)\s+(?:need|needs|might|could|should|would|may|must|propose|proposes)"
    r")(?![\w'\u2019])",
    re.I,
)
# An instruction in place of a description, where a sentence opens: "Invent a new animal that
# can wear a space suit." A small model hands the task back instead of doing it.
_INSTRUCTS = re.compile(
    r"\A\W*(?:now\s+|just\s+|please\s+)?(?:invent|imagine|envision|visuali[sz]e|think\s+(?:of|about|up)|"
    r"come\s+up\s+with|dream\s+up|make\s+up)(?![\w'\u2019])",
    re.I,
)
# Remarks about whoever looks at the picture, who is not in it: "inviting the viewer to...",
# "leaving the viewer in awe", "Viewers will feel...", "the audience is drawn into...". Where
# the viewer is a direction ("looking at the viewer", "tilted towards the viewer") it is a pose
# and no remark. Onlookers and spectators are left out: they are mostly people in the scene.
_VIEWER = r"(?:viewers?|audiences?|observers?)"
_VIEWER_REMARK = re.compile(
    r"(?<![\w'\u2019])(?:"
    r"(?:invit|draw|leav|pull|immers|transport|captivat|encourag|urg|allow|prompt|compel|remind|welcom|"
    r"beckon|enchant|engag|tempt|challeng|giv|offer|lett|captur|grabb)\w*\s+"
    rf"(?:the\s+|every\s+|each\s+|any\s+|all\s+)?{_VIEWER}(?:['\u2019]s?)?|"
    rf"{_VIEWER}\s+(?:(?:will|would|can|could|may|might|should|must)(?!\s+be\s+seen)|feels?|senses?|"
    r"(?:is|are)\s+(?:drawn|invited|left|transported|immersed|captivated|reminded|encouraged|pulled|"
    r"welcomed|treated))|"
    rf"{_VIEWER}['\u2019]s?\s+(?:attention|imagination|eyes?|gaze|hearts?|minds?|curiosity|senses|focus)"
    r")(?![\w'\u2019])",
    re.I,
)


@lru_cache(maxsize=4096)
def _spaced_words(text: str) -> str:
    return " " + " ".join(re.findall(r"[\w'\u2019]+", text.lower())) + " "


def _unseen_marks(piece: str, original: str) -> list[re.Match[str]]:
    """The piece's marks of what a camera cannot see, but for the user's own words, in order."""
    marks = [*_UNSEEN.finditer(piece), *_VIEWER_REMARK.finditer(piece), *_INSTRUCTS.finditer(piece)]
    own = _spaced_words(original)
    return sorted((m for m in marks if _spaced_words(m.group()) not in own), key=lambda m: m.start())


def unseen(piece: str, original: str) -> bool:
    """Whether a piece talks about what a camera cannot see, in words the user did not use:
    the other senses, thoughts and plans, the content's history or use, an instruction to
    invent or imagine, a remark about the viewer."""
    return bool(_unseen_marks(piece, original))


# A clause that opens on one "-ing" word right before its mark: the word may be the mark's
# adjective ("a rhythmic, soothing sound"), the comma inside a noun phrase; no cut is sure there.
_ADJECTIVE_BEFORE = re.compile(r"[\s,;\u2013\u2014-]*[a-z]+ing\s+", re.I)


def off_picture(piece: str, original: str) -> bool:
    """A tag or sentence of the model's that would change or pad the picture the user asked for
    (`repair_off_picture` would not keep it as written)."""
    return repair_off_picture(piece, original) != piece


def _adds_person(piece: str, original: str) -> bool:
    """A person the prompt lacks; the viewer of a remark ("inviting the viewer to...") is no one
    in the picture."""
    return mentions_person(_VIEWER_REMARK.sub(" ", piece)) and not asks_for_person(original)


# Cached, as `why_dropped` is: the optimizers screen the same sentences on every pass.
@lru_cache(maxsize=4096)
def repair_off_picture(piece: str, original: str) -> str | None:
    """The piece with its off-picture clauses cut at a clause boundary, when what is left
    describes the picture and still carries a word of the prompt; None when it should go
    whole (nothing of the picture is left, or it carries no prompt word); the piece itself
    when nothing in it is off-picture.

    Prompt extenders are known to add people: Wan 2.1's own extension put a person into 36% of
    person-free prompts, and a small model gives the user's dog "his friends at the park" or
    swaps it for "a giant panda". Where the prompt has no person, a piece that adds one goes
    whole; so does a piece about an animal that is neither the prompt's nor a kind of it. The
    viewer of a remark ("inviting the viewer to...") is no one in the picture: the remark is cut
    with its clause like any talk of what cannot be seen (`unseen`)."""
    if _adds_person(piece, original) or invents_animal(_opening(piece), original):
        return None
    kept: list[str] = []
    for clause in clauses(piece):
        marks = _unseen_marks(clause, original)
        if not marks:
            kept.append(clause)
            continue
        if _ADJECTIVE_BEFORE.fullmatch(clause[: marks[0].start()]):
            return None  # a cut would leave "their hooves create a rhythmic." behind
        break
    else:
        return piece
    # Only what comes before the first off-picture clause stays: what follows it hangs on it
    # ("..., inviting the viewer to imagine the journey ahead, where stars...").
    repaired = terminate("".join(kept).strip())
    if not meaningful(repaired) or not carried_words(repaired, original):
        return None
    return repaired


_SUBJECT_WORDS = 5


def _opening(piece: str) -> str:
    """What a unit is about: a tag whole, a sentence's first words. A sentence that opens on a
    new animal ("A cute puppy is perched on the handlebars") changes the picture; one that
    names fish in passing behind the user's turtle sets its scene."""
    words = piece.split()
    return piece if len(words) <= 2 * _SUBJECT_WORDS else " ".join(words[:_SUBJECT_WORDS])


_QUOTES = "\"'\u201c\u201d\u2018\u2019"


def _said_exactly(span: str, text: str) -> bool:
    """A weighted group or a quotation of the user's is in the text word for word. A quotation
    may come back in other quote marks ("'OPEN'" and "\u201cOPEN\u201d" are the same sign)."""
    span = " ".join(span.split())
    if span[0] not in _QUOTES:
        return span in text
    inner = re.escape(span[1:-1].strip().rstrip(".,!?"))
    # A sentence that ends on the quotation may put its full stop inside it ("the word "Meta."").
    return re.search(f"[{_QUOTES}]\\s*{inner}[.,!?]?\\s*[{_QUOTES}]", text) is not None


def keeps_subject(text: str, original: str) -> bool:
    """The text carries the user's subject (`subject.carries_subject`), and quoted text and
    weighted groups word for word: a sign's words and a weight the user chose are exact."""
    original, spans = structure(original)
    flat = " ".join(text.split())
    if not all(_said_exactly(original[start:end], flat) for start, end in spans):
        return False
    if content_words(original):
        return carries_subject(flat, original)
    wanted = norm_key(original)
    return not wanted or wanted in norm_key(text)


def distinct(units: list[str], original: str) -> list[str]:
    """Without sentences that restate an earlier one or repeat its opening a third time: the
    loops of a small model ("She's dancing, a show of ... She's dancing, a show of ...").
    The user's own sentences stay, however much they repeat themselves: that is their call."""
    users = {norm_key(s) for s in sentences(original)}
    mine = frozenset(i for i, s in enumerate(units) if norm_key(s) in users)
    drop = set(redundant_sentences(units, mine))
    return [s for i, s in enumerate(units) if i not in drop]


def screen(piece: str, original: str, drops: list[Drop] | None, language: str | None = None) -> str | None:
    """The unit as it may stay in the answer: whole, with its off-picture remark cut off
    (`repair_off_picture`), or None when it must go whole; what goes is recorded in `drops`
    (`fit.Drop`) with the reason. `language`: the answer's (`language.answer_language`; None:
    the prompt's script)."""
    reason = why_dropped(piece, original, language)
    if reason == "off_picture":
        kept = repair_off_picture(piece, original)
        if kept:
            record(drops, piece[len(kept.rstrip(".!?")):].strip(" ,;:.!?") or piece, "off_picture")
            return kept
    if reason:
        record(drops, piece, reason)
        return None
    return piece


@lru_cache(maxsize=4096)
def why_dropped(piece: str, original: str, language: str | None = None) -> str | None:
    """Why a unit of the model's answer must go whole (the reasons of `off_picture` and
    `in_language`, by name for the change report), or None when it may stay."""
    if _adds_person(piece, original):
        return "invented_person"
    if invents_animal(_opening(piece), original):
        return "invented_animal"
    if off_picture(piece, original):
        return "off_picture"
    if not in_language(piece, original, language):
        return "other_language"
    return None
