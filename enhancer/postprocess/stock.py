"""Stock phrases: what the worker adds for a required element an answer lacks, and never where
it would contradict the prompt or the answer."""

from __future__ import annotations

import re

from ..detect import is_non_english, without_stock
from ..profiles import MOTION, Element, Profile
from ..subject import CJK_RUN, animals, asks_for_person
from ..tokens import TokenCounter
from .language import NATIVE, resolve
from .text import present

# A still picture: motion added to it would contradict the prompt.
_STILL = re.compile(
    r"\b(?:still\s+(?:frame|image|life|photo\w*|shot|picture)|static\s+(?:shot|image|scene)|"
    r"motionless|freeze[- ]frame|frozen\s+in\s+time)\b",
    re.I,
)
# A drawn, painted, animated or computer-generated look: "realistic footage" or a lens would
# contradict it.
_DRAWN = re.compile(
    r"\b(?:pixel\s*art|paint(?:ing|ings|ed)|oil\s+on\s+canvas|watercolou?r|ink\s+wash|gouache|"
    r"sketch(?:ed)?|drawing|drawn|illustration|illustrated|cartoon\w*|anime|manga|animated|"
    r"(?<!suspended )animation|cg|cgi|3d\s+render\w*|concept\s+art|comic\w*|claymation|stop[- ]motion|low[- ]poly|"
    r"van\s+gogh|ukiyo[- ]e|cel[- ]shaded|vector\s+art)\b",
    re.I,
)


def _can_move(original: str) -> bool:
    """The prompt names something that moves by itself (an animal, a person) or a motion: "the
    subject moves naturally" would make a chair or a bench move."""
    return bool(animals(original)) or asks_for_person(original) or present(MOTION, original)


def is_still(text: str) -> bool:
    return bool(_STILL.search(text))


def is_drawn(text: str) -> bool:
    return bool(_DRAWN.search(text))


def thin(answer: str, profile: Profile, counter: TokenCounter) -> bool:
    """Too little for the target model to go on (`Profile.thin_below`), so stock phrases may
    fill what it lacks. A richer answer is trusted as it is."""
    return counter.count(without_stock(answer)) < profile.thin_below


def lacks(element: Element, text: str) -> bool:
    """The answer does not mention the element by itself (stock phrases do not count)."""
    return not present(element, without_stock(text))


def phrase_for(element: Element, original: str, answer: str, language: str | None = None) -> str | None:
    """The stock phrase to add for a missing element, or None where any would contradict the
    prompt or the answer, or break its one language (`language`: the answer's; None: the
    prompt's script): English for a "latin" answer, even to a Chinese prompt."""
    language = resolve(language, original)
    if language == NATIVE:
        # Chinese answers get Chinese stock; other scripts have none, and English would mix.
        native = original if is_non_english(original) else answer
        return element.chinese if CJK_RUN.search(native) else None
    context = f"{original}\n{answer}"
    # A prompt in another script names what moves in words the English checks cannot read:
    # the English answer says it.
    mover = context if is_non_english(original) else original
    if element.name == "motion" and (is_still(context) or not _can_move(mover)):
        return None
    if element.photographic and is_drawn(context):
        return element.stylized
    return element.default


def missing_phrases(profile: Profile, original: str, answer: str, skip: tuple[Element, ...] = (),
                    language: str | None = None) -> list[str]:
    """Stock phrases for the profile's required elements the answer lacks, in profile order."""
    added: list[str] = []
    for element in profile.required:
        if element in skip:
            continue
        if lacks(element, " ".join([answer, *added])):
            phrase = phrase_for(element, original, answer, language)
            # Already there: added on an earlier pass, and it counts for nothing (see `lacks`).
            if phrase and phrase not in answer:
                added.append(phrase)
    return added
