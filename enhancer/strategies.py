"""Strategies and experiments: which enhancement a job gets, from an operator's file.

A strategy is a named bundle (system prompt per family or profile, strength, sampling, negative
prompt on or off, stock phrases on or off); `default` is built in and is the worker as it is
without a file. A `selector` strategy picks one of the others by the prompt's features (style,
content, language, length), by rules read top to bottom. An experiment splits traffic between
strategies by weight; the arm is a hash of a key the operator names (`context.user_id`, else the
prompt), so the same key gets the same arm on every worker. The file (`STRATEGIES_FILE`, JSON) is
validated at start-up: a bad one leaves the built-in `default` serving and says why, naming the
path in the file of each problem. The contract is DESIGN.md, "Strategies, experiments and outcome
feedback".
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .detect import is_non_english
from .lexicon import CHINESE_WORDS
from .profiles import PROFILES, Profile
from .subject import CJK_RUN, animals, asks_for_person

DEFAULT = "default"
FEATURES: dict[str, tuple[str, ...]] = {
    "style": ("photo", "anime", "painting", "3d", "none"),
    "content": ("person", "animal", "landscape", "object"),
    "language": ("en", "zh", "other"),
    "length": ("short", "medium", "long"),
}
_FAMILIES = ("sdxl", "wan")


class Sampling(BaseModel):
    model_config = ConfigDict(extra="forbid")

    temperature: float = Field(gt=0, le=2)
    top_p: float = Field(gt=0, le=1)


class Rule(BaseModel):
    """`when` every listed feature has its value (no `when`: always), `use` that strategy."""

    model_config = ConfigDict(extra="forbid")

    when: dict[str, str] = Field(default_factory=dict)
    use: str

    @field_validator("when")
    @classmethod
    def _known_features(cls, when: dict[str, str]) -> dict[str, str]:
        for feature, value in when.items():
            if feature not in FEATURES:
                raise ValueError(f"unknown feature {feature!r}; features are {', '.join(FEATURES)}")
            if value not in FEATURES[feature]:
                raise ValueError(f"{feature} must be one of {', '.join(FEATURES[feature])} (got {value!r})")
        return when


class Strategy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    system_prompt: dict[str, str] = Field(default_factory=dict)  # family or profile name -> prompt
    strength: Literal["light", "balanced", "rich"] | None = None  # None: the job's, else balanced or auto
    sampling: Literal["greedy"] | Sampling = "greedy"
    negative_prompt: bool | None = None  # the job's field wins when it sets one
    stock_phrases: bool = True
    selector: list[Rule] | None = None

    @field_validator("system_prompt")
    @classmethod
    def _known_targets(cls, prompts: dict[str, str]) -> dict[str, str]:
        for target, text in prompts.items():
            if target not in _FAMILIES and target not in PROFILES:
                raise ValueError(f"unknown target {target!r}; use a family ({', '.join(_FAMILIES)}) "
                                 f"or a profile ({', '.join(PROFILES)})")
            if not text.strip():
                raise ValueError(f"the prompt for {target!r} is empty")
        return prompts

    @model_validator(mode="after")
    def _selector_alone(self) -> "Strategy":
        if self.selector is not None:
            if not self.selector:
                raise ValueError("selector: needs at least one rule")
            if self.model_fields_set - {"selector"}:
                raise ValueError("a selector strategy only selects: move "
                                 f"{', '.join(sorted(self.model_fields_set - {'selector'}))} into the strategies it uses")
        return self

    def system_prompt_for(self, profile: Profile) -> str | None:
        """The strategy's system prompt for this profile (a profile's own beats its family's)."""
        return self.system_prompt.get(profile.name) or self.system_prompt.get(profile.family)


class Experiment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    arms: dict[str, float]  # strategy name -> weight
    key: str = "prompt"  # "prompt" or "context.<field>" (the prompt when the field is missing)
    default: bool = False

    @field_validator("arms")
    @classmethod
    def _weights(cls, arms: dict[str, float]) -> dict[str, float]:
        if len(arms) < 2:
            raise ValueError("needs at least two arms")
        for arm, weight in arms.items():
            if not weight > 0:
                raise ValueError(f"the weight of {arm!r} must be above 0 (got {weight})")
        return arms

    @field_validator("key")
    @classmethod
    def _key(cls, key: str) -> str:
        if key != "prompt" and not re.fullmatch(r"context\.[A-Za-z0-9_.-]+", key):
            raise ValueError(f"must be 'prompt' or 'context.<field>' (got {key!r})")
        return key


class StrategiesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    strategies: dict[str, Strategy] = Field(default_factory=dict)
    experiments: dict[str, Experiment] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references(self) -> "StrategiesFile":
        known = set(self.strategies) | {DEFAULT}
        for name, strategy in self.strategies.items():
            for number, rule in enumerate(strategy.selector or ()):
                target = self.strategies.get(rule.use)
                if rule.use not in known:
                    raise ValueError(f"strategies.{name}.selector.{number}.use: unknown strategy {rule.use!r}")
                if target is not None and target.selector is not None:
                    raise ValueError(f"strategies.{name}.selector.{number}.use: {rule.use!r} is a selector itself")
        for name, experiment in self.experiments.items():
            for arm in experiment.arms:
                if arm not in known:
                    raise ValueError(f"experiments.{name}.arms.{arm}: unknown strategy")
        defaults = [name for name, experiment in self.experiments.items() if experiment.default]
        if len(defaults) > 1:
            raise ValueError(f"experiments: only one may be the default (got {', '.join(defaults)})")
        return self


@dataclass(frozen=True)
class Choice:
    """What a job runs: the strategy it asked for or was assigned (`strategy`), the one that ran
    (`template`: the selector's pick, else the strategy itself), and the experiment and arm."""

    strategy: str
    template: str
    settings: Strategy
    experiment: str | None = None
    arm: str | None = None


class UnknownName(ValueError):
    """A job named a strategy or experiment the file does not hold."""


class Catalogue:
    def __init__(self, file: StrategiesFile | None = None, warning: str | None = None,
                 source: str | None = None) -> None:
        self.file = file or StrategiesFile()
        self.warning = warning
        self.source = source
        self.strategies: dict[str, Strategy] = {DEFAULT: Strategy(), **self.file.strategies}
        self.default_experiment = next((n for n, e in self.file.experiments.items() if e.default), None)

    def choose(self, prompt: str, context: dict[str, Any], strategy: str | None = None,
               experiment: str | None = None) -> Choice:
        """The strategy a job runs; UnknownName for a name the file does not hold."""
        arm = None
        if strategy is None:
            experiment = experiment or self.default_experiment
            if experiment is not None:
                if experiment not in self.file.experiments:
                    raise UnknownName(f"experiment: unknown {experiment!r}; known: "
                                      f"{', '.join(sorted(self.file.experiments)) or 'none'}")
                arm = assign(experiment, self.file.experiments[experiment], prompt, context)
            strategy = arm or DEFAULT
        elif strategy not in self.strategies:
            raise UnknownName(f"strategy: unknown {strategy!r}; known: {', '.join(sorted(self.strategies))}")
        else:
            experiment = None  # a strategy named by the job is outside any experiment
        chosen = self.strategies[strategy]
        template = strategy
        if chosen.selector is not None:
            template = select(chosen.selector, features(prompt))
        return Choice(strategy, template, self.strategies[template], experiment, arm)


def assign(name: str, experiment: Experiment, prompt: str, context: dict[str, Any]) -> str:
    """The experiment's arm for this job: a hash of the experiment's name and key, the same on
    every worker, mapped onto the arms' weights in the order of their names."""
    key = _key_value(experiment.key, prompt, context)
    digest = hashlib.sha256(f"{name}\0{key}".encode("utf-8")).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(experiment.arms.values())
    for arm in sorted(experiment.arms):
        point -= experiment.arms[arm]
        if point < 0:
            return arm
    return sorted(experiment.arms)[-1]


def _key_value(key: str, prompt: str, context: dict[str, Any]) -> str:
    if key.startswith("context."):
        value: Any = context
        for part in key.split(".")[1:]:
            value = value.get(part) if isinstance(value, dict) else None
        if value is not None:
            return json.dumps(value, sort_keys=True, ensure_ascii=False)
    return " ".join(prompt.lower().split())


def select(rules: list[Rule], found: dict[str, str]) -> str:
    """The first rule whose every condition the features meet; `default` when none does."""
    for rule in rules:
        if all(found.get(feature) == value for feature, value in rule.when.items()):
            return rule.use
    return DEFAULT


_STYLES = (  # first match wins: a "3D anime render" is 3D, a "watercolor photo" a painting
    ("3d", re.compile(r"\b(?:3d|cgi|render(?:ed|ing)?|octane|unreal engine|blender|isometric|low[- ]poly)\b")),
    ("anime", re.compile(r"\b(?:anime|manga|chibi|cel[- ]shaded|studio ghibli|waifu)\b")),
    ("painting", re.compile(r"\b(?:paint(?:ing|ed)?|oil|watercolou?r|gouache|acrylic|impressionis[mt]|"
                            r"canvas|brush ?strokes?|van gogh|monet|sketch|drawing|illustration)\b")),
    ("photo", re.compile(r"\b(?:photo(?:graph|graphy|realistic)?|dslr|35mm|\d+mm|lens|bokeh|film still|"
                         r"realistic|cinematic|portrait photo)\b")),
)
_LANDSCAPE = re.compile(r"\b(?:landscape|mountains?|valley|forest|beach|ocean|sea|lake|river|desert|"
                        r"meadow|field|sky|sunset|sunrise|city ?scape|skyline|waterfall|canyon|island|hills?)\b")


def features(prompt: str) -> dict[str, str]:
    """The prompt's features for a selector: style, content, language and length."""
    # A Chinese prompt is read through the English of the words the lexicon knows ("猫" is a cat).
    english = " ".join(word for key, word in CHINESE_WORDS.items() if key in prompt) if CJK_RUN.search(prompt) else ""
    lowered = f"{prompt} {english}".lower()
    style = next((name for name, pattern in _STYLES if pattern.search(lowered)), "none")
    if asks_for_person(prompt) or (english and asks_for_person(english)):
        content = "person"
    elif animals(lowered):
        content = "animal"
    elif _LANDSCAPE.search(lowered):
        content = "landscape"
    else:
        content = "object"
    language = "zh" if CJK_RUN.search(prompt) else ("other" if is_non_english(prompt) else "en")
    # Chinese has no spaces: about two characters a word.
    words = len(prompt.split()) if language != "zh" else len(prompt) // 2
    length = "short" if words <= 8 else "medium" if words <= 25 else "long"
    return {"style": style, "content": content, "language": language, "length": length}


def load(path: str | None) -> Catalogue:
    """The catalogue of `path` (None: the built-in `default` alone). A file that cannot be read
    or does not validate leaves `default` serving, with a warning naming each problem's path."""
    if not path:
        return Catalogue()
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        return Catalogue(warning=f"STRATEGIES_FILE {path}: cannot be read ({exc.strerror or exc}); serving default")
    except json.JSONDecodeError as exc:
        return Catalogue(warning=f"STRATEGIES_FILE {path}: not JSON (line {exc.lineno}, column {exc.colno}: "
                                 f"{exc.msg}); serving default")
    try:
        return Catalogue(StrategiesFile.model_validate(raw), source=path)
    except ValidationError as exc:
        problems = "; ".join(_problem(e) for e in exc.errors(include_url=False))
        return Catalogue(warning=f"STRATEGIES_FILE {path}: {problems}; serving default")


def _problem(error: dict) -> str:
    where = ".".join(str(part) for part in error.get("loc", ()))
    message = error.get("msg", "is invalid").removeprefix("Value error, ")
    if message.startswith(("strategies.", "experiments.")):
        return message  # a cross-reference check names its own path
    return f"{where}: {message}" if where else message
