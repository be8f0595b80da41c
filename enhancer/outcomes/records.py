"""What both stores share: the record, the figures of `info.strategies`, and the background writer."""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, replace
from typing import Any, Iterable

from ..schemas import OUTCOMES

log = logging.getLogger("enhancer.outcomes")

_FLUSH_SECONDS = 0.25


@dataclass(frozen=True)
class Request:
    id: str
    strategy: str
    experiment: str | None
    arm: str | None
    quality: float
    rules: bool
    cache_hit: bool
    latency_ms: float
    at: float = 0.0


@dataclass(frozen=True)
class Feedback:
    request: Request  # what it judges
    outcome: str
    score: float | None
    at: float


class OutcomeStore:
    """Records go to a queue, and a background thread hands them to `_write` a few at a time; a
    record not yet written is found by `feedback` all the same. A store implements `_write`,
    `find`, `summary`, `reset` and `_close`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: queue.Queue[Request | Feedback | None] = queue.Queue()
        self._pending: dict[str, Request] = {}  # recorded, not yet written
        self._unwritten = 0  # records queued or being written
        self._writer = threading.Thread(target=self._write_loop, name="outcomes-writer", daemon=True)
        self._writer.start()

    def record(self, request: Request) -> None:
        request = request if request.at else replace(request, at=time.time())
        self._pending[request.id] = request
        self._put(request)

    def feedback(self, request_id: str, outcome: str, score: float | None) -> bool:
        """Feedback for an answered request (False: no worker of the endpoint answered it); a
        second feedback for one request replaces the first."""
        found = self._pending.get(request_id) or self.find(request_id)
        if found is None:
            return False
        self._put(Feedback(found, outcome, score, time.time()))
        return True

    def _put(self, item: Request | Feedback) -> None:
        with self._lock:
            self._unwritten += 1
        self._queue.put(item)

    def _write_loop(self) -> None:
        while True:
            item = self._queue.get()
            batch = [item]
            deadline = time.monotonic() + _FLUSH_SECONDS
            while item is not None and time.monotonic() < deadline:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                batch.append(item)
            written = [b for b in batch if b is not None]
            if written:
                try:
                    self._write(written)
                except Exception as exc:  # a metric lost is never a failed job
                    log.warning("%d outcome records not written: %s", len(written), exc)
                with self._lock:
                    self._unwritten -= len(written)
                for record in written:
                    if isinstance(record, Request):
                        self._pending.pop(record.id, None)
            if None in batch:
                return

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until what was recorded so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._unwritten and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join(timeout=5)
        self._close()

    def _write(self, batch: list[Request | Feedback]) -> None:
        raise NotImplementedError

    def find(self, request_id: str) -> Request | None:
        raise NotImplementedError

    def summary(self, strategies: Iterable[str] = (), experiments: dict[str, list[str]] | None = None
                ) -> dict[str, Any]:
        """`info.strategies`: STATS per strategy and per experiment arm, and each experiment's
        leader; the strategies and experiments named are listed even before their first request."""
        raise NotImplementedError

    def reset(self) -> int:
        """Retire every record of the endpoint; how many there were."""
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


class Stats:
    """One strategy's or arm's figures, from sums: a store adds what it read."""

    def __init__(self) -> None:
        self.requests = self.rules = self.hits = 0
        self.quality_sum = 0.0
        self.latencies: list[float] = []
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.scored, self.score_sum, self.score_squares = 0, 0.0, 0.0

    def add(self, requests: int, quality: float, rules: int, hits: int) -> None:
        self.requests += requests
        self.quality_sum += quality
        self.rules += rules
        self.hits += hits

    def judge(self, outcome: str, score: float | None) -> None:
        self.outcomes[outcome] += 1
        if score is not None:
            self.add_scores(1, score, score * score)

    def add_scores(self, n: int, total: float, squares: float) -> None:
        self.scored += n
        self.score_sum += total
        self.score_squares += squares

    def interval(self) -> tuple[float, float] | None:
        """The mean external score's 95% interval (normal approximation, within the scores'
        0..1); None under 2 scores."""
        n = self.scored
        if n < 2:
            return None
        mean = self.score_sum / n
        variance = max(0.0, self.score_squares - n * mean * mean) / (n - 1)
        half = 1.96 * math.sqrt(variance / n)
        return (round(max(0.0, mean - half), 4), round(min(1.0, mean + half), 4))

    def view(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float | None:
            return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 2) if ordered else None

        return {
            "requests": self.requests,
            "mean_quality_score": round(self.quality_sum / self.requests, 4) if self.requests else None,
            "rules_share": round(self.rules / self.requests, 4) if self.requests else None,
            "cache_hits": self.hits,
            "latency_ms": {"p50": pct(50), "p95": pct(95)},
            "outcomes": dict(self.outcomes),
            "external_score": {"mean": round(self.score_sum / self.scored, 4) if self.scored else None,
                               "ci95": list(interval) if (interval := self.interval()) else None,
                               "n": self.scored},
        }


def summary_of(by_strategy: dict[str, Stats], by_arm: dict[str, dict[str, Stats]]) -> dict[str, Any]:
    return {
        "strategies": {name: stats.view() for name, stats in sorted(by_strategy.items())},
        "experiments": {name: {"arms": {arm: s.view() for arm, s in sorted(arms.items())},
                               "leader": leader(arms)} for name, arms in sorted(by_arm.items())},
    }


def named(strategies: Iterable[str], experiments: dict[str, list[str]] | None
          ) -> tuple[dict[str, Stats], dict[str, dict[str, Stats]]]:
    """Empty figures for the strategies and arms named, so they are listed before their first request."""
    return ({name: Stats() for name in strategies},
            {name: {arm: Stats() for arm in arms} for name, arms in (experiments or {}).items()})


def leader(arms: dict[str, Stats]) -> str | None:
    """The arm whose external score's 95% interval lies above every other arm's, once they part."""
    intervals = {arm: stats.interval() for arm, stats in arms.items()}
    if len(intervals) < 2 or any(i is None for i in intervals.values()):
        return None
    for arm, (low, _) in intervals.items():
        if all(low > high for other, (_, high) in intervals.items() if other != arm):
            return arm
    return None
