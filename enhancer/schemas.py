"""Typed job input and responses: the edges of the worker."""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .config import Settings
from .profiles import DEFAULT_JOB_TYPE, JOB_TYPES, QUALITIES, STRENGTHS

Action = Literal["enhance", "intelligent", "legacy", "info", "cache_clear", "feedback"]
ACTIONS: tuple[str, ...] = ("enhance", "intelligent", "legacy", "info", "cache_clear", "feedback")
OUTCOMES: tuple[str, ...] = ("kept", "edited", "regenerated", "discarded")
# The fields whose value must be one of a list, each with its list.
_CHOICES = {"job_type": JOB_TYPES, "quality": QUALITIES, "strength": STRENGTHS, "outcome": OUTCOMES}
MAX_NOTE_CHARS = 500
# The seed's HTTP paths, accepted as actions so old integrations can pass them through unchanged.
ACTION_ALIASES: dict[str, str] = {
    "/enhance": "enhance",
    "/enhance/intelligent": "intelligent",
    "/enhance/legacy": "legacy",
    "/enhancement/info": "info",
    "/enhancement/cache/clear": "cache_clear",
    "/enhancement/feedback": "feedback",
}
PROMPT_ACTIONS = frozenset({"enhance", "intelligent", "legacy"})
MAX_VARIANTS = 8
MAX_KEEP_TERMS = 16
MAX_KEEP_TERM_CHARS = 200
_ALLOWED_CONTROL = frozenset("\n\r\t")


class InvalidInput(ValueError):
    """A job input the worker refuses; the message names the field and what is allowed."""


def _check_text(value: str) -> str:
    for char in value:
        if "\ud800" <= char <= "\udfff":
            raise ValueError("contains an unpaired surrogate; send valid UTF-8 text")
        if (ord(char) < 32 or ord(char) == 127) and char not in _ALLOWED_CONTROL:
            raise ValueError(
                f"contains control character U+{ord(char):04X}; only newlines and tabs are allowed"
            )
    return value


def _at_most(value: str, limit: int, setting: str) -> str:
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters ({setting}), got {len(value)}")
    return value


def _depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


class JobInput(BaseModel):
    """The `input` of a RunPod job, and the body of the HTTP routes."""

    model_config = ConfigDict(extra="ignore")

    action: StrictStr = "enhance"
    prompt: StrictStr | None = None
    job_type: StrictStr = DEFAULT_JOB_TYPE
    quality: StrictStr | None = None
    enhancement_type: StrictStr = "manual"
    system_prompt: StrictStr | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    seed: StrictInt | None = None
    use_cache: StrictBool = True
    include_raw: StrictBool = False
    admin_token: StrictStr | None = None
    # Controls (enhance and intelligent; legacy ignores them).
    negative_prompt: bool | str = False  # checked strictly by _negative_prompt
    variants: StrictInt = 1
    strength: StrictStr | None = None  # None: balanced, or light for a prompt that fills most of the budget
    keep_terms: list[StrictStr] = Field(default_factory=list)
    report: StrictBool = False
    # Strategies (strategies.py): one by name, or an experiment's arm; None: the file's default
    # experiment, else the built-in default.
    strategy: StrictStr | None = None
    experiment: StrictStr | None = None
    # feedback: what became of an answer (outcomes.py)
    request_id: StrictStr | None = None
    outcome: StrictStr | None = None
    score: StrictFloat | StrictInt | None = None  # an external assessor's, 0..1
    note: StrictStr | None = None
    # cache_clear: the answers (cache) or the strategies' request and outcome records
    scope: Literal["cache", "strategies"] = "cache"

    @field_validator("action")
    @classmethod
    def _known_action(cls, value: str) -> str:
        action = ACTION_ALIASES.get(value.strip(), ACTION_ALIASES.get("/" + value.strip("/"), value.strip()))
        if action not in ACTIONS:
            raise ValueError(f"must be one of {', '.join(ACTIONS)} (got {value!r})")
        return action

    @field_validator(*_CHOICES)
    @classmethod
    def _known_choice(cls, value: str | None, info: ValidationInfo) -> str | None:
        allowed = _CHOICES[info.field_name]
        if value is not None and value not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)} (got {value!r})")
        return value

    @field_validator("enhancement_type")
    @classmethod
    def _short_label(cls, value: str) -> str:
        if len(value) > 64:
            raise ValueError("must be at most 64 characters")
        return _check_text(value)

    @field_validator("prompt")
    @classmethod
    def _prompt_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        value = _check_text(value).strip()
        if not value:
            raise ValueError("must not be empty or only whitespace")
        return _at_most(value, _settings(info).max_prompt_chars, "MAX_PROMPT_CHARS")

    @field_validator("system_prompt")
    @classmethod
    def _system_prompt_text(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        value = _check_text(value).strip()
        return _at_most(value, _settings(info).max_system_prompt_chars, "MAX_SYSTEM_PROMPT_CHARS") or None

    @field_validator("context")
    @classmethod
    def _bounded_context(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        settings = _settings(info)
        if _depth(value) > settings.max_context_depth:
            raise ValueError(f"must be nested at most {settings.max_context_depth} levels deep")
        try:
            encoded = json.dumps(value, ensure_ascii=False, sort_keys=True)
            encoded.encode("utf-8")
        except (TypeError, ValueError, UnicodeEncodeError) as exc:
            raise ValueError("must be a JSON object of strings, numbers, booleans, lists and objects") from exc
        if value and len(encoded) > settings.max_context_chars:
            raise ValueError(
                f"must be at most {settings.max_context_chars} characters as JSON (MAX_CONTEXT_CHARS), "
                f"got {len(encoded)}"
            )
        return value

    @field_validator("negative_prompt", mode="before")
    @classmethod
    def _negative_prompt(cls, value: Any, info: ValidationInfo) -> bool | str:
        if isinstance(value, bool):
            return value
        if not isinstance(value, str) or not (value := _check_text(value).strip()):
            raise ValueError("must be true, false or a non-empty string of terms")
        return _at_most(value, _settings(info).max_prompt_chars, "MAX_PROMPT_CHARS")

    @field_validator("variants")
    @classmethod
    def _variant_count(cls, value: int) -> int:
        if not 1 <= value <= MAX_VARIANTS:
            raise ValueError(f"must be an integer from 1 to {MAX_VARIANTS} (got {value})")
        return value

    @field_validator("keep_terms")
    @classmethod
    def _terms(cls, value: list[str]) -> list[str]:
        if len(value) > MAX_KEEP_TERMS:
            raise ValueError(f"must hold at most {MAX_KEEP_TERMS} terms (got {len(value)})")
        terms = []
        for number, term in enumerate(value):
            term = " ".join(_check_text(term).split())
            if not term:
                raise ValueError(f"term {number} is empty")
            if len(term) > MAX_KEEP_TERM_CHARS:
                raise ValueError(f"term {number} is longer than {MAX_KEEP_TERM_CHARS} characters")
            terms.append(term)
        return list(dict.fromkeys(terms))

    @field_validator("score")
    @classmethod
    def _unit_score(cls, value: float | None) -> float | None:
        if value is not None and not 0 <= value <= 1:
            raise ValueError(f"must be from 0 to 1 (got {value})")
        return None if value is None else float(value)

    @field_validator("note")
    @classmethod
    def _short_note(cls, value: str | None) -> str | None:
        if value is not None and len(_check_text(value)) > MAX_NOTE_CHARS:
            raise ValueError(f"must be at most {MAX_NOTE_CHARS} characters, got {len(value)}")
        return value

    @model_validator(mode="after")
    def _prompt_where_needed(self) -> "JobInput":
        if self.action in PROMPT_ACTIONS and self.prompt is None:
            raise ValueError(f"prompt: is required for action {self.action!r}")
        if self.action == "feedback":
            missing = [name for name in ("request_id", "outcome") if getattr(self, name) is None]
            if missing:
                raise ValueError("; ".join(f"{name}: is required for action 'feedback'" for name in missing))
        return self


def _settings(info: ValidationInfo) -> Settings:
    return (info.context or {}).get("settings") or Settings()


def _describe(error: dict) -> str:
    field = ".".join(str(part) for part in error.get("loc", ())) or "input"
    message = error.get("msg", "is invalid")
    message = message.removeprefix("Value error, ")
    kind = error.get("type", "")
    if kind == "missing":
        message = "is required"
    elif kind.endswith("_type") or kind in {"dict_type", "model_type"}:
        message = f"has the wrong type: {message.lower()}"
    if message.startswith(f"{field}: ") or (field == "input" and ": " in message):
        return message
    return f"{field}: {message}"


def parse_job_input(raw: Any, settings: Settings) -> JobInput:
    """Validate a job input; raise InvalidInput with every problem named by its field."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"input: must be a JSON object, got {type(raw).__name__}")
    try:
        return JobInput.model_validate(raw, context={"settings": settings})
    except ValidationError as exc:
        raise InvalidInput("; ".join(_describe(e) for e in exc.errors(include_url=False))) from None


class WorkerOptimizations(BaseModel):
    caching: bool
    post_processing: bool = True
    fallback_ready: bool = True


class SDXLOptimizations(BaseModel):
    has_quality_tags: bool
    has_lighting: bool
    has_technical_terms: bool
    has_resolution: bool
    token_count: int


class WANOptimizations(BaseModel):
    has_motion: bool
    has_cinematography: bool
    has_temporal: bool
    has_quality: bool
    token_count: int


EnhancementSource = Literal["edge_function", "worker_fallback", "emergency_fallback"]


Span = tuple[int, int]  # [start, end) character offsets into enhanced_prompt


class StrengthApplied(BaseModel):
    applied: str
    chosen_by: Literal["caller", "strategy", "auto", "default"]


class TokenReport(BaseModel):
    encoders: dict[str, int]  # per text encoder of the target
    budget: int
    counted_with: str


class WordReport(BaseModel):
    word: str  # a required word of the prompt
    carried: Literal["literal", "synonym", "kind", "repaired", "missing"]
    by: str | None = None  # the word of enhanced_prompt that carries it
    span: Span | None = None


class KeptTermReport(BaseModel):
    term: str
    kind: Literal["asked", "quoted", "weight", "lora"]
    restored: bool  # the model's answer did not hold it verbatim; the worker put it back
    span: Span | None = None


class DropReport(BaseModel):
    text: str
    reason: str


class AddedReport(BaseModel):
    text: str
    why: str
    span: Span


class RemovedNegative(BaseModel):
    term: str
    reason: str


class ChangeReport(BaseModel):
    """What the worker made of the prompt (job field `report`); see report.py."""

    strength: StrengthApplied
    tokens: TokenReport
    words: list[WordReport]
    kept_terms: list[KeptTermReport]
    dropped: list[DropReport]
    added: list[AddedReport]
    negative_removed: list[RemovedNegative]


class Variant(BaseModel):
    enhanced_prompt: str
    seed: int | None  # None: the greedy answer
    quality_score: float
    enhancement_source: EnhancementSource
    model: str
    negative_prompt: str | None = None


class EnhanceResponse(BaseModel):
    success: bool = True
    original_prompt: str
    enhanced_prompt: str
    generation_time: float
    enhancement_type: str
    job_type: str
    quality: str
    enhancement_source: EnhancementSource
    cache_hit: bool = False
    worker_optimizations: WorkerOptimizations
    quality_score: float
    sdxl_optimizations: SDXLOptimizations | None = None
    wan_optimizations: WANOptimizations | None = None
    model: str
    negative_prompt: str | None = None  # when the job asked for one
    variants: list[Variant] | None = None  # when the job asked for more than one; the first is enhanced_prompt
    changes: ChangeReport | None = None  # when the job asked for a report
    request_id: str  # this response's, for feedback
    strategy: str  # the strategy the job asked for or was assigned
    template: str | None = None  # the strategy a selector picked
    experiment: str | None = None  # where an experiment assigned the strategy
    arm: str | None = None

    def to_output(self) -> dict[str, Any]:
        output = self.model_dump(exclude_none=True)
        if self.variants is not None:  # a take's seed is null when greedy, not missing
            output["variants"] = [take.model_dump(exclude=set() if take.negative_prompt else {"negative_prompt"})
                                  for take in self.variants]
        return output


class LegacyResponse(BaseModel):
    success: bool = True
    original_prompt: str
    enhanced_prompt: str
    generation_time: float
    enhancement_type: str
    job_type: str
    quality: str


class ErrorResponse(BaseModel):
    success: bool = False
    error: str
    enhanced_prompt: str | None = None


class FeedbackResponse(BaseModel):
    success: bool = True
    request_id: str
    outcome: str
    score: float | None = None


class CacheClearResponse(BaseModel):
    success: bool = True
    message: str
    cleared: int
    cache_size: int = 0
