"""The `info` action: what a worker reports of itself, and the request metrics it keeps."""

from __future__ import annotations

from collections import Counter, deque
from typing import TYPE_CHECKING, Any

from . import SYSTEM_NAME, __version__
from .config import Settings
from .profiles import JOB_TYPES, PROFILES, resolve_profile

if TYPE_CHECKING:
    from .service import EnhancementService

EMERGENCY_MODEL = "rules (emergency fallback)"


class Metrics:
    def __init__(self, window: int = 1000) -> None:
        self.by_source: Counter[str] = Counter()
        self.by_action: Counter[str] = Counter()
        self.errors = 0
        self._latencies: deque[float] = deque(maxlen=window)

    def record(self, action: str, seconds: float, source: str | None = None) -> None:
        self.by_action[action] += 1
        if source:
            self.by_source[source] += 1
        self._latencies.append(seconds)

    def snapshot(self) -> dict[str, Any]:
        ordered = sorted(self._latencies)

        def pct(p: float) -> float | None:
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))] * 1000, 2)

        return {
            "requests_by_source": dict(self.by_source),
            "requests_by_action": dict(self.by_action),
            "validation_errors": self.errors,
            "latency_ms": {"p50": pct(50), "p95": pct(95), "p99": pct(99), "samples": len(ordered)},
        }


def retired_note(settings: Settings) -> str:
    return f"ignored, retired with the micro-batcher: {', '.join(settings.retired)}"


def info(service: "EnhancementService") -> dict[str, Any]:
    """The `info` action's response: the model, the cache, the engine, the metrics, the warnings."""
    generator = service.generator
    model_block: dict[str, Any] = {
        "name": generator.model_id if generator else None,
        "source": generator.loaded.source.kind if generator else None,
        "device": generator.loaded.device if generator else None,
        "dtype": generator.loaded.dtype if generator else None,
        "load_time": round(generator.loaded.load_seconds, 2) if generator else None,
        "weights_from": generator.loaded.weights_from if generator else None,
        "status": "device_lost" if service.device_lost else ("loaded" if generator else "unavailable"),
        "error": service.model_error,
        "answering_model": generator.model_id if generator and not service.device_lost else EMERGENCY_MODEL,
    }
    cache_stats = service.cache.stats()
    return {
        "success": True,
        "system": SYSTEM_NAME,
        "version": __version__,
        "features": [
            "edge_function_system_prompts", "worker_fallback_prompts", "emergency_fallback",
            "persistent_shared_cache", "exact_clip_token_budgets",
            "continuous_batching",
            "single_flight", "oom_retry",
            "negative_prompts", "variants", "strength", "kept_terms", "change_report",
        ],
        "supported_job_types": {
            job_type: {
                "family": family,
                "default_quality": tier,
                "budgets": {q: resolve_profile(job_type, q).budget for q in ("fast", "high")},
                "counted_with": "clip-bpe" if family == "sdxl" else service.video_counter.name,
            }
            for job_type, (family, tier) in JOB_TYPES.items()
        },
        "quality_levels": ["fast", "high"],
        "fallback_prompts": sorted(PROFILES),
        "cache_size": cache_stats["entries"],
        "model_loaded": generator is not None and not service.device_lost,
        "model": model_block,
        "cache": cache_stats,
        "batching": _batching(service),
        "metrics": service.metrics.snapshot(),
        "strategies": service.outcomes.summary(sorted(service.catalogue.strategies),
                                               {name: sorted(e.arms) for name, e in
                                                service.catalogue.file.experiments.items()}),
        "warnings": cache_stats["warnings"] + ([service.model_error] if service.model_error else [])
        + ([retired_note(service.settings)] if service.settings.retired else [])
        + ([service.catalogue.warning] if service.catalogue.warning else []),
    }


def _batching(service: "EnhancementService") -> dict[str, Any]:
    generator, settings = service.generator, service.settings
    block: dict[str, Any] = {
        "engine": "continuous",
        "max_batch_size": settings.max_batch_size,
        "kv_cache": "slots",
        "slot_tokens": generator.slot_tokens if generator else settings.slot_tokens,
        "stop_loops": settings.stop_loops,
    }
    if generator:
        block.update(steps_run=generator.steps_run, rows_run=generator.rows_run,
                     shared_steps=generator.shared_steps, prefix_hits=generator.prefix_hits,
                     loops_stopped=generator.loops_stopped, warmup_seconds=generator.warmup_seconds,
                     graphs=dict(generator.graphs))
    return block
