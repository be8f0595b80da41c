"""Settings from the environment, read in one place."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

VOLUME_ROOT = Path("/runpod-volume")
DEFAULT_MODEL_NAME = "Qwen/Qwen2.5-7B-Instruct"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _optional(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = _optional(env.get(name))
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from exc


def _choice(env: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str:
    value = (_optional(env.get(name)) or allowed[0]).lower()
    if value not in allowed:
        raise ValueError(f"environment variable {name} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def default_cache_dir() -> Path:
    if VOLUME_ROOT.is_dir():
        return VOLUME_ROOT / "prompt-enhancer" / "cache"
    return Path.cwd() / ".cache" / "prompt-enhancer"


def _converted_dir(value: str | None) -> Path | None:
    """Where dequantized GGUF weights are kept; "0" turns the conversion cache off."""
    value = (value or "").strip()
    if value == "0":
        return None
    return Path(value) if value else Path.home() / ".cache" / "prompt-enhancer" / "converted"


def _cache_url(value: str | None) -> str | None:
    url = _optional(value)
    if url is not None and not url.startswith(("redis://", "rediss://", "unix://")):
        scheme = url.split(":")[0]
        raise ValueError(f"environment variable CACHE_URL must start with redis://, rediss:// or unix://, got {scheme!r}")
    return url


# Settings of the micro-batcher, which the continuous engine replaced: a worker that still sets them
# serves on and says so.
RETIRED = ("GENERATION_ENGINE", "GENERATION_CACHE", "BATCH_WAIT_MS")


def default_worker_id() -> str:
    return os.environ.get("RUNPOD_POD_ID") or f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True)
class Settings:
    model_name: str = DEFAULT_MODEL_NAME
    model_path: str | None = None
    model_revision: str | None = None
    allow_model_download: bool = False
    video_tokenizer_path: str | None = None
    converted_model_dir: Path | None = None
    model_dtype: str = "auto"
    cache_dir: Path = Path(".cache/prompt-enhancer")
    cache_size_limit_mb: int = 1024
    cache_ttl_seconds: int | None = None
    cache_lease_seconds: int = 120
    cache_url: str | None = None
    worker_id: str = "local"
    stop_loops: bool = True
    max_concurrency: int = 8
    max_batch_size: int = 8
    slot_tokens: int = 1024
    max_prompt_chars: int = 2000
    max_system_prompt_chars: int = 8000
    max_context_chars: int = 4000
    max_context_depth: int = 4
    admin_token: str | None = None
    strategies_file: str | None = None  # JSON of strategies and experiments (strategies.py)
    outcomes_dir: Path | None = None  # None: beside the cache directory (outcomes.py)
    log_prompts: bool = False
    http_port: int = 7861
    retired: tuple[str, ...] = ()  # retired variables this environment still sets

    @property
    def outcomes_directory(self) -> Path:
        """Where the strategies' request and outcome records live: on the volume beside the cache."""
        return self.outcomes_dir or self.cache_dir.parent / "outcomes"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        ttl = _int(env, "CACHE_TTL_SECONDS", 0)
        return cls(
            model_name=_optional(env.get("MODEL_NAME")) or DEFAULT_MODEL_NAME,
            model_path=_optional(env.get("MODEL_PATH")),
            model_revision=_optional(env.get("MODEL_REVISION")),
            allow_model_download=_flag(env.get("ALLOW_MODEL_DOWNLOAD")),
            video_tokenizer_path=_optional(env.get("VIDEO_TOKENIZER_PATH")),
            converted_model_dir=_converted_dir(env.get("CONVERTED_MODEL_DIR")),
            model_dtype=_choice(env, "MODEL_DTYPE", ("auto", "bfloat16", "float16", "float32")),
            cache_dir=Path(_optional(env.get("CACHE_DIR")) or default_cache_dir()),
            cache_size_limit_mb=_int(env, "CACHE_SIZE_LIMIT_MB", 1024),
            cache_ttl_seconds=ttl if ttl > 0 else None,
            cache_lease_seconds=max(1, _int(env, "CACHE_LEASE_SECONDS", 120)),
            cache_url=_cache_url(env.get("CACHE_URL")),
            worker_id=_optional(env.get("RUNPOD_POD_ID")) or default_worker_id(),
            stop_loops=_flag(env.get("STOP_LOOPS", "1")),
            max_concurrency=max(1, _int(env, "MAX_CONCURRENCY", 8)),
            max_batch_size=max(1, _int(env, "MAX_BATCH_SIZE", 8)),
            slot_tokens=max(16, _int(env, "KV_SLOT_TOKENS", 1024)),
            max_prompt_chars=max(1, _int(env, "MAX_PROMPT_CHARS", 2000)),
            max_system_prompt_chars=max(1, _int(env, "MAX_SYSTEM_PROMPT_CHARS", 8000)),
            max_context_chars=max(0, _int(env, "MAX_CONTEXT_CHARS", 4000)),
            max_context_depth=max(1, _int(env, "MAX_CONTEXT_DEPTH", 4)),
            admin_token=_optional(env.get("ADMIN_TOKEN")),
            strategies_file=_optional(env.get("STRATEGIES_FILE")),
            outcomes_dir=Path(value) if (value := _optional(env.get("OUTCOMES_DIR"))) else None,
            log_prompts=_flag(env.get("LOG_PROMPTS")),
            http_port=_int(env, "HTTP_PORT", 7861),
            retired=tuple(name for name in RETIRED if _optional(env.get(name))),
        )
