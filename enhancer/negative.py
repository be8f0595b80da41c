"""Negative prompts per target, checked against the positive.

WAN: the video model's own default negative prompt, as Wan2.1 publishes it, in the answer's language.
SDXL: a short list of the artifacts SDXL renders when nothing says otherwise, within the 75 CLIP
tokens of one window. A caller's own negative prompt (a string) comes first, the target's terms after
it, each term once.

Either way no term negates what the positive asks for: a negative "blurry" against a positive bokeh,
"cartoon" against a cartoon, "static" against a still frame, "text" against lettering would fight the
prompt the caller wants rendered (style negatives of this kind are how Fooocus' presets suppress a
style the user asked for). Such terms are removed and listed with the phrase of the positive they
contradict. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .subject import says_in_a_row
from .tokens import TokenCounter

# Wan2.1's default negative prompt, github.com/Wan-Video/Wan2.1 at commit
# 9737cba9c1c3c4d04b33fcad41c111989865d315: the Chinese one is `sample_neg_prompt` in
# wan/configs/shared_config.py (what generate.py uses), the English one the README's diffusers
# example. Copied verbatim; the two lists align term by term.
WAN_NEGATIVE_ZH = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，"
                   "JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，"
                   "手指融合，静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走")
WAN_NEGATIVE_EN = ("Bright tones, overexposed, static, blurred details, subtitles, style, works, paintings, images, "
                   "static, overall gray, worst quality, low quality, JPEG compression residue, ugly, incomplete, "
                   "extra fingers, poorly drawn hands, poorly drawn faces, deformed, disfigured, misshapen limbs, "
                   "fused fingers, still picture, messy background, three legs, many people in the background, "
                   "walking backwards")
# This project's list: artifacts, not styles, so that a neutral prompt is not pushed toward one.
SDXL_NEGATIVE = ("worst quality, low quality, lowres, blurry, jpeg artifacts, watermark, signature, text, "
                 "cropped, out of frame, deformed, disfigured, bad anatomy, bad hands, extra fingers, "
                 "missing fingers, fused fingers, extra limbs, poorly drawn face, mutated, ugly, duplicate, "
                 "oversaturated, grainy")
SDXL_NEGATIVE_BUDGET = 75


@dataclass(frozen=True)
class Contradiction:
    """A kind of thing a positive can ask for, and the negative terms that would negate it."""

    name: str
    asks: re.Pattern  # searched in the positive (lower case)
    negates: re.Pattern  # searched in a negative term (lower case, its English form)


def _words(pattern: str, quoted: bool = False) -> re.Pattern:
    """Whole words or phrases; `quoted`: quoted text (a sign's words) counts as well."""
    words = rf"(?<![\w-])(?:{pattern})(?![\w-])"
    return re.compile(words + (r"|[\"\u201c][^\"\u201d]{1,60}[\"\u201d]" if quoted else ""))


CONTRADICTIONS = (
    Contradiction("blur or bokeh",
                  _words(r"blur(?:s|ry|red)?|bokeh|out[- ]of[- ]focus|soft[- ]focus|defocus(?:ed)?|depth of field|"
                         r"shallow focus|motion[- ]blur(?:red)?|dreamy haze|hazy|\u6a21\u7cca|\u865a\u5316|\u666f\u6df1"),
                  _words(r"blur(?:ry|red)?|blurred details|out of focus|soft focus|bokeh|depth of field")),
    Contradiction("a drawn, painted or animated style",
                  _words(r"cartoons?|cartoonish|anime|manga|comics?|comic book|illustrat(?:ion|ed|ive)s?|drawings?|"
                         r"hand[- ]drawn|sketch(?:es|ed|y)?|paintings?|painted|watercolou?rs?|oil on canvas|"
                         r"gouache|pixel art|3d render(?:ed|ing)?|renders?|cgi|animated|animation|claymation|"
                         r"digital art|concept art|artwork|cel[- ]shaded|ukiyo-e|pastel drawing|in the style of|"
                         r"styli[sz]ed|\u52a8\u6f2b|\u5361\u901a|\u63d2\u753b|\u6cb9\u753b|\u6c34\u5f69|\u7d20\u63cf|"
                         r"\u98ce\u683c|\u7ed8\u753b|\u52a8\u753b"),
                  _words(r"cartoons?|cartoonish|anime|manga|comics?|illustrations?|drawings?|(?<!poorly )drawn|"
                         r"sketch(?:es)?|paintings?|painted|artworks?|works|style|styli[sz]ed|3d|renders?|"
                         r"rendered|cgi|animated|animation|digital art|images")),
    Contradiction("a still frame",
                  _words(r"still (?:frame|image|photo(?:graph)?|life|shot|picture)|static|"
                         r"freeze[- ]frame|frozen in time|motionless|stillness|locked[- ]off|"
                         r"\u9759\u6b62|\u9759\u6001|\u5b9a\u683c"),
                  _words(r"static|still(?: picture| image| frame)?|motionless|frozen")),
    Contradiction("a named style",
                  _words(r"\w+[- ]style|styles|style of|aesthetics?"),
                  _words(r"style")),
    Contradiction("lettering",
                  _words(r"text|lettering|letters|typography|words? [\"'\u201c]|(?:sign|banner|poster|caption|title|"
                         r"label|neon sign|headline) (?:that )?(?:reads|reading|says|saying)|captions?|subtitles?|"
                         r"logo|calligraphy|graffiti|font|inscription|signage|\u6587\u5b57|\u5b57\u5e55|\u6807\u9898|"
                         r"\u4e66\u6cd5", quoted=True),
                  _words(r"text|lettering|letters|words|subtitles?|captions?|logos?|typography|font")),
    Contradiction("black and white or muted colour",
                  _words(r"black[- ]and[- ]white|b&w|monochrome|monochromatic|gr[ae]yscale|gr[ae]y tones?|"
                         r"desaturated|sepia|film noir|noir|muted colou?rs?|\u9ed1\u767d|\u7070\u8c03"),
                  _words(r"overall gr[ae]y|monochrome|gr[ae]yscale|black and white|desaturated")),
    Contradiction("vivid colour",
                  _words(r"vivid|vibrant|saturated|bright colou?rs?|colou?rful|neon|bright tones?|"
                         r"\u8272\u5f69\u9c9c\u8273|\u9c9c\u8273|\u8273\u4e3d"),
                  _words(r"bright tones|vivid colou?rs|gorgeous colou?rs|oversaturated")),
    Contradiction("overexposure or high key",
                  _words(r"overexposed|over-exposed|high[- ]key|blown[- ]out|bleached|washed[- ]out|\u8fc7\u66dd"),
                  _words(r"overexposed|overexposure")),
    Contradiction("a crowd",
                  _words(r"crowds?|crowded|bustling|busy (?:street|market|square|station|city)|many people|throngs?|"
                         r"packed|\u4eba\u7fa4|\u62e5\u6324"),
                  _words(r"many people in the background")),
    Contradiction("walking backwards",
                  _words(r"backwards?|in reverse|moonwalk(?:s|ing)?|\u5012\u7740"),
                  _words(r"walking backwards")),
    Contradiction("film grain or noise",
                  _words(r"grain|grainy|film grain|noise|noisy|\u9897\u7c92"),
                  _words(r"grain(?:y)?|noise|noisy")),
    Contradiction("a low-fidelity look",
                  _words(r"pixel art|pixelated|8-bit|16-bit|lo-?fi|vhs|glitch(?:y|es)?|low[- ]res(?:olution)?|"
                         r"jpeg|compression artifacts?|\u50cf\u7d20"),
                  _words(r"jpeg artifacts|jpeg compression residue|lowres|low resolution|pixelated|low quality")),
    Contradiction("clutter",
                  _words(r"clutter(?:ed)?|messy|chaotic|untidy|\u6742\u4e71|\u51cc\u4e71"),
                  _words(r"messy background|cluttered background")),
    Contradiction("something ugly or deformed on purpose",
                  _words(r"ugly|grotesque|deform(?:s|ed|ing|ation)?|disfigured|malformed|mutant|mutated|monsters?|zombies?|"
                         r"\u4e11\u964b|\u7578\u5f62"),
                  _words(r"ugly|deformed|disfigured|malformed|mutated|misshapen limbs")),
    Contradiction("extra limbs on purpose",
                  _words(r"three[- ]legged|three legs|six[- ]armed|many[- ]armed|multiple arms|extra (?:arms|legs|limbs)"),
                  _words(r"three legs|extra limbs")),
    Contradiction("a cropped frame",
                  _words(r"cropped|extreme close-?up|out of frame"),
                  _words(r"cropped|out of frame")),
)


@dataclass(frozen=True)
class Removed:
    term: str
    reason: str  # "contradicts <kind>: <the positive's words>" or "over budget"


@dataclass(frozen=True)
class Negative:
    text: str
    removed: tuple[Removed, ...] = ()


def _split(text: str, chinese: bool) -> list[str]:
    pieces = re.split(r"[，,、；;\n]" if chinese else r"[,;\n]", text)
    return [p.strip() for p in pieces if p.strip()]


def terms(negative: str) -> list[str]:
    """The terms of a negative prompt, in either language."""
    return _split(negative, chinese=True)


_WAN_ZH_TERMS = _split(WAN_NEGATIVE_ZH, chinese=True)
_WAN_EN_TERMS = _split(WAN_NEGATIVE_EN, chinese=False)
assert len(_WAN_ZH_TERMS) == len(_WAN_EN_TERMS)  # aligned: a Chinese term is judged by its English one
_ENGLISH_OF = dict(zip(_WAN_ZH_TERMS, _WAN_EN_TERMS))


def defaults(family: str, chinese: bool) -> list[str]:
    if family == "sdxl":
        return _split(SDXL_NEGATIVE, chinese=False)
    return list(_WAN_ZH_TERMS if chinese else _WAN_EN_TERMS)


def contradiction(term: str, positive: str) -> str | None:
    """Why `term` would negate what `positive` asks for (None: it does not): it negates a kind of
    thing the positive asks for, or the positive names it word for word (classifier-free guidance
    would cancel the positive's own words with it, whatever sense they have there)."""
    english = _ENGLISH_OF.get(term, term).lower()
    wanted = positive.lower()
    for kind in CONTRADICTIONS:
        if kind.negates.search(english):
            asked = kind.asks.search(wanted)
            if asked:
                return f"contradicts {kind.name}: {asked.group(0)!r}"
    if says_in_a_row(english, wanted):
        return "named by the positive (in some form)"
    return None


def build(family: str, positive: str, asked: bool | str, counter: TokenCounter | None,
          chinese: bool = False) -> Negative | None:
    """The negative prompt for `positive` (the final prompt, which holds the user's words): None
    when not asked for; the target's own where `asked` is True; the caller's terms first, then
    the target's, where it is a string. SDXL's is held to one CLIP window with `counter`."""
    if asked is False or asked is None:
        return None
    separator = "，" if chinese and family == "wan" else ", "
    caller = list(dict.fromkeys(_split(asked, chinese=True))) if isinstance(asked, str) else []
    given = {term.lower() for term in caller}
    # The published default stays as published (Wan's has "static" twice); only what the caller
    # already gave is not said again.
    terms = caller + [term for term in defaults(family, chinese) if term.lower() not in given]
    removed: list[Removed] = []
    kept = []
    for term in terms:
        reason = contradiction(term, positive)
        if reason:
            removed.append(Removed(term, reason))
        else:
            kept.append(term)
    if family == "sdxl" and counter is not None:
        while kept and counter.count(", ".join(kept)) > SDXL_NEGATIVE_BUDGET:
            removed.append(Removed(kept.pop(), "over budget"))
    return Negative(separator.join(kept), tuple(removed))
