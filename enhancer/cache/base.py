"""What every store shares: JSON values, hit and miss counts, lookup latency, "an error is a miss"."""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from typing import Any

from .keys import cache_key

log = logging.getLogger("enhancer.cache")


class CacheBase:
    """A store implements _get_raw, _set_raw, generation, clear, __len__, _store_stats and close."""

    store = "none"

    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.hits = 0
        self.misses = 0
        self._lookup_seconds: deque[float] = deque(maxlen=256)

    def generation(self) -> int:
        raise NotImplementedError

    def _get_raw(self, key: str) -> str | None:
        raise NotImplementedError

    def _set_raw(self, key: str, raw: str) -> None:
        raise NotImplementedError

    def key(self, material: dict[str, Any]) -> str:
        return cache_key(material, self.generation())

    def get(self, key: str) -> dict[str, Any] | None:
        started = time.perf_counter()
        try:
            raw = self._get_raw(key)
        except Exception as exc:  # any cache failure is a miss
            log.warning("cache read failed: %s", exc)
            raw = None
        self._lookup_seconds.append(time.perf_counter() - started)
        if raw is None:
            self.misses += 1
            return None
        try:
            value = json.loads(raw)
        except (TypeError, ValueError):
            self.misses += 1
            return None
        self.hits += 1
        return value

    def set(self, key: str, value: dict[str, Any]) -> None:
        try:
            self._set_raw(key, json.dumps(value, ensure_ascii=False))
        except Exception as exc:
            log.warning("cache write failed: %s", exc)

    def lookup_ms(self) -> dict[str, Any]:
        """Latency of the last lookups (hits and misses), in milliseconds."""
        samples = sorted(self._lookup_seconds)
        if not samples:
            return {"samples": 0, "mean": None, "p50": None, "max": None}
        return {
            "samples": len(samples),
            "mean": round(1000 * sum(samples) / len(samples), 3),
            "p50": round(1000 * samples[len(samples) // 2], 3),
            "max": round(1000 * samples[-1], 3),
        }
