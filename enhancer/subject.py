"""What the user asked for, and whether a text still carries it.

A capable model rarely repeats the user's words: it writes "a golden eagle glides above the still
lake" for "a bird soaring over a lake". So the subject is judged by meaning where a small word
list can tell it: a word is carried by itself (any inflection), by a word of the same group
("puppy" for "dog", "bicycle" for "bike") or, for a category, by a kind of it ("eagle" or "raven"
for "bird", "corgi" for "dog", "woman" for "person"). A different thing of the same category ("a
cat" for "a dog") does not carry it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from lemminflect import getAllLemmas

from .lexicon import (
    ANIMAL_CATEGORIES,
    ANIMAL_GROUPS,
    CATEGORIES,
    CHINESE_WORDS,
    COCO_THINGS,
    FRAMING,
    FUNCTION,
    JUDGING,
    PERSON_WORDS,
    SAME_MEANING,
    SAME_THING,
)

# Hiragana, katakana, CJK ideographs (with extension A and compatibility) and Hangul: scripts
# written without spaces, where a "word" is the whole run.
CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
CJK_RUN = re.compile(f"[{CJK}]+")
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")
# Letters only: "she's" gives "she", "man-made" gives "man" and "made".
LETTERS = re.compile(r"[^\W\d_]+")

# Small on purpose: only words that say nothing about what is in the picture.
_STOPWORDS = frozenset(
    "a an the of in on at to for by with from and or but as is are was were be been being it its "
    "this that these those into onto over very some any".split()
)


def content_words(text: str) -> list[str]:
    """The words that carry meaning, lowercased, in order; CJK text gives its runs of characters."""
    words: list[str] = []
    position = 0
    # CJK runs are taken whole and the text between them is split into ordinary words, so a
    # mixed string like "a cat 猫" yields both.
    for match in CJK_RUN.finditer(text):
        words.extend(_latin_words(text[position:match.start()]))
        words.append(match.group())
        position = match.end()
    words.extend(_latin_words(text[position:]))
    return words


def _latin_words(text: str) -> list[str]:
    return [w for w in map(str.lower, _WORD.findall(text)) if w not in _STOPWORDS]


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    # Just enough stemming that "cats" keeps "cat" and "running" keeps "run": the check is
    # whether the subject survived a rewrite, not linguistics.
    for suffix in ("ing", "ed", "es", "s"):
        if len(word) > len(suffix) + 2 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "aeiou":
        word = word[:-1]
    return word


@lru_cache(maxsize=4096)
def stems(text: str) -> frozenset[str]:
    """Stems of the content words of a text, for subject matching. Cached: optimize asks for
    the same tags and sentences on every packing pass."""
    return frozenset(stem(w) for w in content_words(text))


# --------------------------------------------------------------------------------------------
# Things: groups of words for the same thing, and categories with their kinds
# --------------------------------------------------------------------------------------------

_ANIMAL = {word: i for i, group in enumerate(ANIMAL_GROUPS) for word in group.split()}

_SAME = {word: ("same", i) for i, group in enumerate(SAME_THING) for word in group.split()}
_SAME.update({word: ("thing", word) for word in COCO_THINGS.split() if word not in _SAME})


def _group(word: str):
    """The thing a word names, as a comparable id, or None for a word outside the lists."""
    if word in _ANIMAL:
        return ("animal", _ANIMAL[word])
    return _SAME.get(word) or _SAME.get(stem(word))


@lru_cache(maxsize=4096)
def animals(text: str) -> frozenset[int]:
    """The animal species a text names, as group ids (see `ANIMAL_GROUPS`)."""
    return frozenset(_ANIMAL[w] for w in LETTERS.findall((text or "").lower()) if w in _ANIMAL)


@lru_cache(maxsize=1024)
def covered_animals(original: str) -> frozenset[int]:
    """The species a prompt allows: those it names, and every kind of a category it names
    ("bird" allows an eagle or a raven; "animal" allows any)."""
    words = set(LETTERS.findall((original or "").lower()))
    allowed = set(animals(original))
    if words & ANIMAL_CATEGORIES:
        allowed.update(range(len(ANIMAL_GROUPS)))
    for word in words:
        for kind in CATEGORIES.get(word, "").split():
            if kind in _ANIMAL:
                allowed.add(_ANIMAL[kind])
    return frozenset(allowed)


def invents_animal(answer: str, original: str) -> bool:
    """An animal species in the answer that the prompt neither named nor allowed as a kind of
    what it named ("a giant panda" for a dog; an eagle for a bird is fine).

    Judged for prompts in Latin script only: a Chinese prompt's animal is named in characters,
    and the check cannot tell a right translation from a wrong one."""
    if CJK_RUN.search(original or ""):
        return False
    return bool(animals(answer) - covered_animals(original))


_PERSON = frozenset(PERSON_WORDS)
# Chinese and Japanese person characters (人 person, 女 woman, 男 man, 孩 child, 她/他 she/he).
_CJK_PERSON = re.compile("[\u4eba\u5973\u7537\u5b69\u5979\u4ed6\u5a03\u59d1\u5988\u7238]")


# Memoized: optimize asks about the same prompt for every tag and sentence it weighs.
@lru_cache(maxsize=4096)
def mentions_person(text: str) -> bool:
    """Whether the text puts a person in the picture (by a person noun or pronoun)."""
    text = text or ""
    # A set lookup per word: this runs on every sentence of every answer.
    return any(w in _PERSON for w in LETTERS.findall(text.lower())) or bool(_CJK_PERSON.search(text))


# --------------------------------------------------------------------------------------------
# Coverage: is the user's subject still there?
# --------------------------------------------------------------------------------------------

# Asking for people is judged more broadly than mentioning them: a prompt word that is as often
# something else ("a couple of trees") still lets the answer show people, which costs little,
# whereas in an answer it would get a sentence dropped.
_PROMPT_PERSON_WORDS = frozenset("couple couples twins lovers newlyweds selfie selfies".split())
# A prompt that opens on a name doing what people do ("Gwen Stacy reading a book", "Vincent van
# Gogh is painting in the room", "Yoda playing guitar on the stage") is about that person or
# character, and the answer may call them "she" or "a man".
_NAMED_DOER = re.compile(
    r"^((?:[A-Z][\w'\u2019.\-]*|van|von|de|da|del|der|la|le)(?:\s+(?:[A-Z][\w'\u2019.\-]*|van|von|de|da|del|der|la|le))*)"
    r"\s+(?:(?:is|are)\s+)?(?:reading|writing|painting|drawing|playing|dancing|singing|walking|running|"
    r"jogging|eating|drinking|cooking|riding|driving|holding|wearing|smiling|laughing|crying|talking|"
    r"speaking|fighting|sitting|sleeping|jumping|swimming|surfing|skiing|skating|waving|hugging|"
    r"kissing|looking|working|studying|teaching|giving|making|taking|throwing|catching|climbing)\b"
)
_NOT_A_NAME = frozenset("a an the this that these those my our your his her its their one two three some".split())


@lru_cache(maxsize=1024)
def asks_for_person(prompt: str) -> bool:
    """Whether the prompt puts a person in the picture: a person noun or pronoun
    (`mentions_person`), a word for a pair of people, or a name that opens it and does what
    people do."""
    if mentions_person(prompt) or any(w in _PROMPT_PERSON_WORDS for w in LETTERS.findall(prompt.lower())):
        return True
    named = _NAMED_DOER.match(prompt.strip())
    if not named:
        return False
    words = named.group(1).lower().split()
    return words[0] not in _NOT_A_NAME and not any(_group(w) for w in words)


_NOT_REQUIRED = FRAMING | JUDGING | FUNCTION
# "front view" asks for a camera angle, not for something in front of something.
_VIEW = re.compile(r"\b(?:front|side|top|rear|back)\s+view\b", re.I)
# Chinese function characters that say nothing about the subject.
_CJK_FUNCTION = frozenset("的一个在了是和着只有与及也很把被这那")

_MEANING: dict[str, set[int]] = {}
for _i, _words in enumerate(SAME_MEANING):
    for _word in _words.split():
        _MEANING.setdefault(_word, set()).add(_i)
# A prompt word carried inside a longer word: "springtime" for "spring", "Parisian" for "Paris".
_MIN_PREFIX = 4


@lru_cache(maxsize=16384)
def _forms(word: str) -> frozenset[str]:
    """The word's forms to compare: itself, its stem and its dictionary lemmas (lemminflect:
    "flew", "flies" and "flying" are all "fly", "knives" is "knife"), and for an adverb or a
    "-y" adjective the word it comes from ("soulfully" -> "soulful", "misty" -> "mist")."""
    word = _plain(word)
    forms = {word, stem(word)}
    for lemmas in getAllLemmas(word).values():
        forms.update(lemmas)
    for suffix in ("ly", "y", "ism"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            base = word[: -len(suffix)]
            forms.update((base, stem(base)))
            if len(base) > 3 and base[-1] == base[-2]:  # "sunny" -> "sun"
                forms.add(base[:-1])
    return frozenset(forms)


def _plain(word: str) -> str:
    """Without accents: "café" is "cafe"."""
    return "".join(c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c))


@lru_cache(maxsize=4096)
def _text_forms(text: str) -> frozenset[str]:
    return frozenset(f for w in content_words(text) for f in _forms(w))


@lru_cache(maxsize=4096)
def _meanings(text: str) -> frozenset[int]:
    return frozenset(i for f in _text_forms(text) for i in _MEANING.get(f, ()))


_PERSON_CATEGORIES = frozenset({"person", "persons", "people", "someone", "human", "humans", "figure"})


def _word_carried(word: str, text: str) -> bool:
    """A prompt word is carried by the text: in any form, by a word of the same group or
    meaning, or, for a category, by a kind of it."""
    forms = _text_forms(text)
    own = _forms(word)
    if own & forms:
        return True
    # Whole words and lemmas only: a cut stem ("danc") would be inside too many other words.
    heads = [f for f in own if len(f) >= _MIN_PREFIX and (f == word or f != stem(f))]
    if any(t.startswith(f) for f in heads for t in forms):
        return True
    groups = _groups(text)
    group = _group(word)
    if group is not None and group in groups:
        return True
    if any(_MEANING.get(f, set()) & _meanings(text) for f in own):
        return True
    if word in ANIMAL_CATEGORIES:
        return bool(animals(text))
    if word in _PERSON_CATEGORIES:
        # "An individual" names a person, though "individual petals" does not put one in a
        # picture; so it carries "a person" without counting as a person word elsewhere.
        return mentions_person(text) or "individual" in forms
    return any(_forms(kind) & forms or _group(kind) in groups for kind in CATEGORIES.get(word, "").split())


def carrier(word: str, text: str) -> tuple[str, int, int, str] | None:
    """The word of the text that carries a prompt word, by the rules of `_word_carried` and in
    their order (a CJK character carries itself, as in `carried_words`): the word as the text
    writes it, its [start, end) offsets and how, "literal" (a form of it), "synonym" (a word of
    the same group or meaning) or "kind" (a kind of the category it names); None: not carried."""
    if CJK_RUN.fullmatch(word):
        start = text.find(word)
        return (word, start, start + len(word), "literal") if start >= 0 else None
    # The text's content words with their offsets, split as `content_words` splits them.
    words: list[tuple[str, int, int]] = []
    position = 0
    for run in [*CJK_RUN.finditer(text), None]:
        stop = run.start() if run else len(text)
        words += [(m.group().lower(), m.start(), m.end()) for m in _WORD.finditer(text, position, stop)
                  if m.group().lower() not in _STOPWORDS]
        if run:
            words.append((run.group(), run.start(), run.end()))
            position = run.end()
    own = _forms(word)
    heads = [f for f in own if len(f) >= _MIN_PREFIX and (f == word or f != stem(f))]
    group = _group(word)
    meanings = set().union(*(_MEANING.get(f, set()) for f in own))
    kinds = CATEGORIES.get(word, "").split()
    tests = [
        ("literal", lambda w: bool(_forms(w) & own)),
        ("literal", lambda w: any(t.startswith(f) for f in heads for t in _forms(w))),
        ("synonym", lambda w: group is not None and _group(w) == group),
        ("synonym", lambda w: any(_MEANING.get(f, set()) & meanings for f in _forms(w))),
    ]
    for how, test in tests:
        for w, start, end in words:
            if test(w):
                return text[start:end], start, end, how
    if word in ANIMAL_CATEGORIES:
        hit = next(((m.start(), m.end()) for m in LETTERS.finditer(text) if m.group().lower() in _ANIMAL), None)
    elif word in _PERSON_CATEGORIES:
        person = _CJK_PERSON.search(text)
        hit = next(((m.start(), m.end()) for m in LETTERS.finditer(text) if m.group().lower() in _PERSON), None) \
            or (person and person.span()) \
            or next(((s, e) for w, s, e in words if "individual" in _forms(w)), None)
    else:
        hit = next(((s, e) for w, s, e in words for kind in kinds
                    if _forms(kind) & _forms(w) or (_group(kind) is not None and _group(w) == _group(kind))), None)
    return (text[hit[0]:hit[1]], hit[0], hit[1], "kind") if hit else None


@lru_cache(maxsize=4096)
def _groups(text: str) -> frozenset:
    return frozenset(g for w in content_words(text) if (g := _group(w)) is not None)


@lru_cache(maxsize=4096)
def required_words(original: str) -> tuple[str, ...]:
    """The words of the prompt that describe the picture, in order, each once: all its content
    words but the framing, judging and function words (a prompt of nothing else requires its
    content words). A Chinese prompt gives its characters other than function characters."""
    if CJK_RUN.search(original or ""):
        return tuple(dict.fromkeys(c for run in CJK_RUN.findall(original) for c in run
                                   if c not in _CJK_FUNCTION))
    words = content_words(_VIEW.sub(" ", original or ""))
    wanted = [w for w in words if not _forms(w) & _NOT_REQUIRED]
    return tuple(dict.fromkeys(wanted or content_words(original or "")))


@lru_cache(maxsize=8192)
def carried_words(text: str, original: str) -> frozenset[str]:
    """The prompt's required words that the text carries (see `_word_carried`; a Chinese
    character counts when it is in the text)."""
    if CJK_RUN.search(original or ""):
        return frozenset(c for c in required_words(original) if c in text)
    return frozenset(w for w in required_words(original) if _word_carried(w, text))


def missing_words(text: str, original: str) -> list[str]:
    """The prompt's required words that the text does not carry, in the prompt's order."""
    have = carried_words(text, original)
    return [w for w in required_words(original) if w not in have]


@lru_cache(maxsize=4096)
def subject_coverage(text: str, original: str) -> float:
    """Fraction of the prompt's required words that the text carries (1.0 if it has none)."""
    wanted = required_words(original)
    return len(carried_words(text, original)) / len(wanted) if wanted else 1.0


# A Chinese answer rewords with other characters for the same meaning ("小狗" and "狗狗"), and no
# word list tells them apart here: most of the prompt's characters must be there.
_CJK_SHARE = 0.6


@lru_cache(maxsize=4096)
def carries_subject(text: str, original: str) -> bool:
    """Whether the text says what the user asked for, in its own words if need be: every
    required word of the prompt is carried (see the module doc); for a Chinese prompt, most of
    its characters other than function characters."""
    # A symbol is the user's exact word for a thing: "🐱 sleeping" is about a cat.
    if any(unicodedata.category(c) == "So" and c not in text for c in original or ""):
        return False
    if CJK_RUN.search(original or ""):
        return subject_coverage(text, original) >= _CJK_SHARE
    return not missing_words(text, original)


# --------------------------------------------------------------------------------------------
# Across languages: a Chinese prompt and an English answer
# --------------------------------------------------------------------------------------------

# Longest first, so that "小狗" is read before "狗" and "海滩" before "海".
_CHINESE_KEYS = sorted(CHINESE_WORDS, key=len, reverse=True)
_CARRIED_ALIKE = {"grass": "meadow lawn field", "run": "sprint dash race bound", "ride": "cycle pedal"}


@lru_cache(maxsize=1024)
def carries_subject_across(text: str, original: str) -> bool | None:
    """Whether an answer in English carries a Chinese prompt's subject, judged by the words of
    `CHINESE_WORDS` the prompt holds: every one of them carried (True), one missing (False),
    or None when the prompt holds none of them and nothing can be judged."""
    rest = original or ""
    wanted: list[str] = []
    for key in _CHINESE_KEYS:
        if key in rest:
            wanted.append(CHINESE_WORDS[key])
            rest = rest.replace(key, " ")
    if not wanted:
        return None
    return all(_word_carried(w, text) or any(_word_carried(a, text) for a in _CARRIED_ALIKE.get(w, "").split())
               for w in dict.fromkeys(wanted))


def says_in_a_row(phrase: str, text: str) -> bool:
    """The text says the phrase's words in a row, each in some form of it ("images" in "the
    image", "deformed" in "it deforms"), the little words between them aside."""
    wanted = [_forms(w) for w in content_words(phrase)]
    words = [_forms(w) for w in content_words(text)]
    n = len(wanted)
    return bool(n) and any(all(a & b for a, b in zip(wanted, words[i:i + n])) for i in range(len(words) - n + 1))


def says_in_order(phrase: str, text: str) -> bool:
    """The text says each of the phrase's words, in some form of it, in the phrase's order, with
    other words between them allowed ("a stop sign" in "a classic red stop sign")."""
    return in_order(word_forms(phrase), word_forms(text))


def word_forms(text: str) -> list[frozenset[str]]:
    """The forms of each content word of the text, in order (for `in_order`)."""
    return [_forms(w) for w in content_words(text)]


def in_order(wanted: list[frozenset[str]], said: list[frozenset[str]]) -> bool:
    """`says_in_order` on words already turned into their forms."""
    words = iter(said)
    # Each wanted word consumes the text up to where it is found, so the next is looked for after it.
    return bool(wanted) and all(any(forms & word for word in words) for forms in wanted)


def english_for(character: str, original: str) -> list[str]:
    """The English words that carry a character of a Chinese prompt, as `carries_subject_across`
    reads them: the translation of the prompt's longest word that holds it, and its alikes."""
    key = next((k for k in _CHINESE_KEYS if character in k and k in original), None)
    return [CHINESE_WORDS[key], *_CARRIED_ALIKE.get(CHINESE_WORDS[key], "").split()] if key else []


def subject_verdict(text: str, original: str) -> bool | None:
    """Whether the text carries the prompt's subject, for every checker (replay, eval): by the
    one rule where the words can be compared; across languages (a Chinese prompt, an English
    answer) by `carries_subject_across`; None where nothing can be judged, which is counted as
    such and never as kept."""
    if carries_subject(text, original):
        return True
    if CJK_RUN.search(original or "") and not CJK_RUN.search(text or ""):
        return carries_subject_across(text, original)
    return False
