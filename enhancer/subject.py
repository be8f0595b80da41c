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

# Animals by species, in groups of words for the same animal (breeds with their species), so
# that "puppy" or "corgi" for "dog" is not an invention.
_ANIMAL_GROUPS = (
    "dog dogs puppy puppies pup pups hound hounds doggy corgi corgis poodle poodles labrador "
    "retriever retrievers husky huskies beagle beagles terrier terriers bulldog bulldogs dachshund "
    "pug pugs chihuahua collie spaniel rottweiler doberman greyhound shiba samoyed dalmatian "
    "pomeranian schnauzer mastiff",
    "cat cats kitten kittens kitty feline tabby siamese",
    "horse horses pony ponies foal stallion mare", "cow cows cattle calf calves bull bulls ox oxen",
    "sheep lamb lambs ram ewe", "goat goats", "pig pigs piglet hog", "deer fawn stag", "elk moose",
    "bear bears", "panda pandas", "koala koalas", "kangaroo kangaroos", "lion lions lioness",
    "tiger tigers", "leopard leopards", "cheetah cheetahs", "jaguar jaguars", "wolf wolves",
    "fox foxes", "rabbit rabbits bunny bunnies hare hares", "squirrel squirrels",
    "mouse mice rat rats hamster hamsters", "monkey monkeys ape apes gorilla gorillas chimpanzee",
    "elephant elephants", "giraffe giraffes", "zebra zebras", "rhino rhinos rhinoceros",
    "hippo hippos hippopotamus", "camel camels", "llama llamas alpaca alpacas", "donkey donkeys mule",
    "eagle eagles hawk hawks falcon falcons", "owl owls", "parrot parrots", "penguin penguins",
    "swan swans", "duck ducks duckling ducklings", "goose geese", "chicken chickens hen hens rooster",
    "pigeon pigeons dove doves", "crow crows raven ravens", "seagull seagulls gull gulls",
    "flamingo flamingos", "peacock peacocks", "ostrich ostriches", "sparrow sparrows robin robins",
    "hummingbird hummingbirds", "heron herons stork storks", "pelican pelicans",
    "woodpecker woodpeckers", "whale whales", "dolphin dolphins", "shark sharks", "seal seals",
    "otter otters", "octopus octopuses", "jellyfish", "turtle turtles tortoise tortoises",
    "crab crabs lobster lobsters", "frog frogs toad toads", "snake snakes serpent",
    "lizard lizards", "crocodile crocodiles alligator alligators", "dinosaur dinosaurs",
    "dragon dragons", "unicorn unicorns", "butterfly butterflies", "bee bees", "spider spiders",
    "beetle beetles", "plankton", "fish fishes goldfish koi", "ant ants", "dragonfly dragonflies",
    "ladybug ladybugs", "moth moths",
)
_ANIMAL = {word: i for i, group in enumerate(_ANIMAL_GROUPS) for word in group.split()}

# Other things models name with another word of the same meaning.
_SAME_THING = (
    "bike bikes bicycle bicycles", "car cars automobile automobiles", "motorcycle motorcycles motorbike",
    "plane planes airplane airplanes aeroplane aircraft jet jets airliner",
    "boat boats ship ships vessel", "photo photos photograph photographs", "sofa couch",
    "tv television", "drier dryer", "ocean sea", "cup mug", "road street", "city town", "forest woods",
)
_SAME = {word: ("same", i) for i, group in enumerate(_SAME_THING) for word in group.split()}
# The objects of COCO's 80 detection classes (by their head noun), which VBench's and most
# benchmarks' object prompts are made of: a thing the user named must be in the answer.
_COCO_THINGS = (
    "bus train truck hydrant sign meter bench backpack umbrella handbag tie suitcase frisbee skis "
    "snowboard ball kite bat glove skateboard surfboard racket bottle glass fork knife spoon bowl "
    "banana apple sandwich orange broccoli carrot pizza donut cake chair plant bed table toilet "
    "laptop remote keyboard phone microwave oven toaster sink refrigerator book clock vase "
    "scissors drier toothbrush"
)
_SAME.update({word: ("thing", word) for word in _COCO_THINGS.split() if word not in _SAME})

_BIRDS = ("eagle owl parrot penguin swan duck goose chicken pigeon crow seagull flamingo peacock "
          "ostrich sparrow hummingbird heron pelican woodpecker")
_INSECTS = "butterfly bee beetle ant dragonfly ladybug moth"
# A category word and the words that name a kind of it.
_CATEGORIES = {
    "bird": _BIRDS, "birds": _BIRDS,
    "insect": _INSECTS, "insects": _INSECTS, "bug": _INSECTS, "bugs": _INSECTS,
    "fish": "shark goldfish koi", "pet": "dog cat rabbit hamster parrot",
    "vehicle": "car bicycle motorcycle bus truck train tram van taxi",
    "vehicles": "car bicycle motorcycle bus truck train tram van taxi",
    "flower": "rose tulip sunflower daisy lily orchid lotus peony poppy lavender",
    "flowers": "rose tulip sunflower daisy lily orchid lotus peony poppy lavender",
    "tree": "oak pine maple birch willow palm cedar cypress", "trees": "oak pine maple birch willow palm",
}
_ANIMAL_CATEGORIES = frozenset({"animal", "animals", "creature", "creatures", "wildlife", "beast", "mammal"})


def _group(word: str):
    """The thing a word names, as a comparable id, or None for a word outside the lists."""
    if word in _ANIMAL:
        return ("animal", _ANIMAL[word])
    return _SAME.get(word) or _SAME.get(stem(word))


@lru_cache(maxsize=4096)
def animals(text: str) -> frozenset[int]:
    """The animal species a text names, as group ids (see `_ANIMAL_GROUPS`)."""
    return frozenset(_ANIMAL[w] for w in LETTERS.findall((text or "").lower()) if w in _ANIMAL)


@lru_cache(maxsize=1024)
def covered_animals(original: str) -> frozenset[int]:
    """The species a prompt allows: those it names, and every kind of a category it names
    ("bird" allows an eagle or a raven; "animal" allows any)."""
    words = set(LETTERS.findall((original or "").lower()))
    allowed = set(animals(original))
    if words & _ANIMAL_CATEGORIES:
        allowed.update(range(len(_ANIMAL_GROUPS)))
    for word in words:
        for kind in _CATEGORIES.get(word, "").split():
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


# People: nouns and pronouns that put a human in the picture. Words that are as often something
# else ("boxer" the dog, "fan" the device, "model" the object, "couple" of trees) are left out,
# so a hit is almost always a person.
_PERSON_WORDS = (
    "person persons people man men woman women girl girls boy boys child children kid kids baby "
    "babies toddler toddlers teen teens teenager teenagers lady ladies gentleman gentlemen guy guys "
    "someone somebody anyone anybody everyone everybody human humans crowd crowds family families "
    "he she him her his hers himself viewer viewers "
    "herself mother father mom dad son daughter brother sister wife husband bride groom friend "
    "friends player players athlete athletes dancer dancers rider riders cyclist cyclists driver "
    "drivers pilot pilots astronaut astronauts soldier soldiers worker workers farmer farmers chef "
    "chefs artist artists painter painters musician musicians singer singers performer performers "
    "photographer photographers tourist tourists visitor visitors pedestrian pedestrians passersby passenger "
    "passengers shopper shoppers customer customers audience spectator spectators onlooker "
    "onlookers bystander bystanders jogger joggers runner runners skier skiers surfer surfers "
    "swimmer swimmers hiker hikers climber climbers traveler travelers traveller travellers actor "
    "actors actress actresses officer officers nurse nurses doctor doctors teacher teachers student "
    "students businessman businesswoman king queen prince princess knight knights warrior warriors "
    "participant participants attendee attendees guest guests employee employees staff resident "
    "residents locals enthusiast enthusiasts professional craftsman craftsmen team "
    "wizard witch character characters protagonist heroine figure figures"
).split()
_PERSON = frozenset(_PERSON_WORDS)
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
_PROMPT_PERSON_WORDS = frozenset("couple couples twins lovers newlyweds".split())
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


# Words about the framing or the medium rather than the subject: a model that turns "In a still
# frame, a stop sign" into "A red stop sign stands on a quiet street" has kept the subject.
_FRAMING = frozenset(
    "still frame photo photograph picture image shot view style footage video hd close up closeup "
    "tableau scene beautiful nice cool colored coloured".split()
)
# "front view" asks for a camera angle, not for something in front of something.
_VIEW = re.compile(r"\b(?:front|side|top|rear|back)\s+view\b", re.I)
_COLORS = frozenset(
    "red orange yellow green blue purple violet pink brown black white gray grey golden silver"
    .split()
)
_NUMBERS = frozenset("two three four five six seven eight nine ten twelve dozen".split())
_SPATIAL = frozenset("left right top bottom under below above behind front beside next between".split())
# Chinese function characters that say nothing about the subject.
_CJK_FUNCTION = frozenset("的一个在了是和着只有与及也很把被这那")


_PERSON_CATEGORIES = frozenset({"person", "persons", "people", "someone", "human", "humans", "figure"})


def _word_carried(word: str, have: frozenset[str], text: str) -> bool:
    if stem(word) in have:
        return True
    groups = _groups(text)
    group = _group(word)
    if group is not None and group in groups:
        return True
    if word in _ANIMAL_CATEGORIES:
        return bool(animals(text))
    if word in _PERSON_CATEGORIES:
        # "An individual" names a person, though "individual petals" does not put one in a
        # picture; so it carries "a person" without counting as a person word elsewhere.
        return mentions_person(text) or "individual" in have
    return any(stem(kind) in have or _group(kind) in groups for kind in _CATEGORIES.get(word, "").split())


@lru_cache(maxsize=4096)
def _groups(text: str) -> frozenset:
    return frozenset(g for w in content_words(text) if (g := _group(w)) is not None)


def _is_key(word: str) -> bool:
    """A word that must be carried: a thing from the lists, a colour, a number, a place."""
    return (_group(word) is not None or word in _CATEGORIES or word in _ANIMAL_CATEGORIES
            or word in _PERSON_CATEGORIES or word in _COLORS or word in _NUMBERS or word in _SPATIAL)


def _cjk_coverage(text: str, original: str) -> float:
    wanted = {c for run in CJK_RUN.findall(original) for c in run if c not in _CJK_FUNCTION}
    if not wanted:
        return 1.0
    return sum(c in text for c in wanted) / len(wanted)


@lru_cache(maxsize=4096)
def subject_coverage(text: str, original: str) -> float:
    """Fraction of the original's content words that the text still carries (1.0 if it has
    none): by itself, a word of the same group, or a kind of a category. A CJK run counts when
    it is there verbatim."""
    wanted = content_words(original)
    if not wanted:
        return 1.0
    have = stems(text)
    kept = 0
    for word in wanted:
        if CJK_RUN.fullmatch(word):
            kept += word in text
        else:
            kept += _word_carried(word, have, text)
    return kept / len(wanted)


# Of the words that are not things, two in five: a capable model rewords verbs and adjectives
# ("glides" for "soaring", "towering" for "tall", "joyful" for "happy").
_LENIENT_SHARE = 0.4
_CJK_SHARE = 0.6


@lru_cache(maxsize=4096)
def carries_subject(text: str, original: str) -> bool:
    """Whether the text says what the user asked for, in its own words if need be.

    Every thing, colour, number and place the prompt names must be carried (see the module
    doc); of its other words (verbs, adjectives; framing words aside) two in five must be.
    Chinese text is carried when most of the prompt's characters
    other than function characters are in the text."""
    # A symbol is the user's exact word for a thing: "🐱 sleeping" is about a cat.
    if any(unicodedata.category(c) == "So" and c not in text for c in original or ""):
        return False
    if CJK_RUN.search(original or ""):
        return _cjk_coverage(text, original) >= _CJK_SHARE
    original = _VIEW.sub(" ", original)
    wanted = [w for w in content_words(original) if w not in _FRAMING]
    if not wanted:
        wanted = content_words(original)
        if not wanted:
            return True
    have = stems(text)
    carried = [_word_carried(w, have, text) for w in wanted]
    if not all(c for w, c in zip(wanted, carried) if _is_key(w)):
        return False
    return sum(carried) / len(carried) >= _LENIENT_SHARE
