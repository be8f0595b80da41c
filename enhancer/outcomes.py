"""What each strategy's answers did: requests and outcome feedback, endpoint-wide.

Every enhance response is recorded (its request id, strategy, experiment and arm, quality score,
whether the rules wrote it, cache hit, latency; never the prompt), and `feedback` adds the
caller's outcome (kept, edited, regenerated, discarded) and an optional external score in 0..1.
The store is shared the way the cache is (DESIGN.md, "Cache"): each worker writes only its own
SQLite file, `OUTCOMES_DIR/<worker id>.sqlite3`, without WAL, and reads the others' read-only, so
counts seen from any worker are the endpoint's. Records are written by a background thread a few
at a time, so a job pays for a queue put, not for a commit. A reset (`cache_clear` with `scope:
strategies`) empties the worker's own file and writes a marker that every worker honours: older
records anywhere stop counting.
"""

from __future__ import annotations

import logging
import math
import queue
import sqlite3
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable

log = logging.getLogger(__name__)

OUTCOMES = ("kept", "edited", "regenerated", "discarded")
_RESET_MARKER = "reset"
_FLUSH_SECONDS = 0.25
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (id TEXT PRIMARY KEY, at REAL, strategy TEXT, experiment TEXT, arm TEXT,
                                     quality REAL, rules INTEGER, cache_hit INTEGER, latency_ms REAL);
CREATE TABLE IF NOT EXISTS feedback (id TEXT PRIMARY KEY, at REAL, strategy TEXT, experiment TEXT, arm TEXT,
                                     outcome TEXT, score REAL);
"""


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


class OutcomeStore:
    def __init__(self, directory: Path, worker_id: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"{_safe(worker_id)}.sqlite3"
        self._db = self._connect(self.path)
        self._lock = threading.Lock()  # the own file's connection
        self._queue: queue.Queue[tuple[str, tuple] | None] = queue.Queue()
        self._pending: dict[str, Request] = {}  # recorded, not yet written
        self._unwritten = 0  # records queued or being written
        self._writer = threading.Thread(target=self._write_loop, name="outcomes-writer", daemon=True)
        self._writer.start()

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=DELETE")  # no WAL: other hosts read this file
        db.executescript(_SCHEMA)
        return db

    # -- writing ---------------------------------------------------------------------------------

    def record(self, request: Request) -> None:
        request = request if request.at else replace(request, at=time.time())
        self._pending[request.id] = request
        self._put(("requests", (request.id, request.at, request.strategy, request.experiment, request.arm,
                                     request.quality, int(request.rules), int(request.cache_hit),
                                     request.latency_ms)))

    def feedback(self, request_id: str, outcome: str, score: float | None) -> bool:
        """Feedback for an answered request (False: no worker of the endpoint answered it); a
        second feedback for one request replaces the first."""
        found = self._pending.get(request_id) or self.find(request_id)
        if found is None:
            return False
        self._put(("feedback", (request_id, time.time(), found.strategy, found.experiment, found.arm,
                                      outcome, score)))
        return True

    def _put(self, item: tuple[str, tuple]) -> None:
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
            self._write([b for b in batch if b is not None])
            if None in batch:
                return

    def _write(self, batch: list[tuple[str, tuple]]) -> None:
        if not batch:
            return
        with self._lock:
            try:
                self._db.execute("BEGIN")
                for table, row in batch:
                    marks = ",".join("?" * len(row))
                    self._db.execute(f"INSERT OR REPLACE INTO {table} VALUES ({marks})", row)
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:  # a metric lost is never a failed job
                log.warning("outcome records not written: %s", exc)
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
            self._unwritten -= len(batch)
        for table, row in batch:
            if table == "requests":
                self._pending.pop(row[0], None)

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until what was recorded so far is written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._unwritten and time.monotonic() < deadline:
            time.sleep(0.01)

    def reset(self) -> int:
        """Forget every record of the endpoint: the own file emptied, a marker for the others."""
        self.flush()
        with self._lock:
            removed = sum(self._db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in ("requests", "feedback"))
            self._db.executescript("DELETE FROM requests; DELETE FROM feedback;")
        marker = self.directory / _RESET_MARKER
        temporary = marker.with_suffix(".tmp")
        temporary.write_text(repr(time.time()), encoding="utf-8")
        temporary.replace(marker)
        return removed

    def close(self) -> None:
        self._queue.put(None)
        self._writer.join(timeout=5)
        with self._lock:
            self._db.close()

    # -- reading ---------------------------------------------------------------------------------

    def _since(self) -> float:
        try:
            return float((self.directory / _RESET_MARKER).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return 0.0

    def _files(self) -> Iterable[sqlite3.Connection]:
        """A read-only connection to every worker's file, this one's first."""
        for path in [self.path] + sorted(p for p in self.directory.glob("*.sqlite3") if p != self.path):
            try:
                db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)
                db.execute("SELECT 1 FROM requests LIMIT 1")
            except sqlite3.Error:
                continue  # being created, or not a store: nothing to read yet
            try:
                yield db
            finally:
                db.close()

    def find(self, request_id: str) -> Request | None:
        since = self._since()
        for db in self._files():
            row = db.execute("SELECT id, strategy, experiment, arm, quality, rules, cache_hit, latency_ms, at "
                             "FROM requests WHERE id = ? AND at >= ?", (request_id, since)).fetchone()
            if row:
                return Request(*row[:5], bool(row[5]), bool(row[6]), row[7], row[8])
        return None

    def summary(self, strategies: Iterable[str] = (), experiments: dict[str, list[str]] | None = None
                ) -> dict[str, Any]:
        """`info.strategies`: STATS per strategy and per experiment arm, and each experiment's
        leader; the strategies and experiments named are listed even before their first request."""
        since = self._since()
        by_strategy: dict[str, _Stats] = {name: _Stats() for name in strategies}
        by_arm: dict[str, dict[str, _Stats]] = {name: {arm: _Stats() for arm in arms}
                                                 for name, arms in (experiments or {}).items()}
        latest: dict[str, tuple] = {}
        # Sums are SQLite's (GROUP BY); only the latencies, for their percentiles, come over row by row.
        totals = "COUNT(*), SUM(quality), SUM(rules), SUM(cache_hit)"
        for db in self._files():
            for strategy, *sums in db.execute(f"SELECT strategy, {totals} FROM requests WHERE at >= ? "
                                              "GROUP BY strategy", (since,)):
                by_strategy.setdefault(strategy, _Stats()).add(*sums)
            for experiment, arm, *sums in db.execute(f"SELECT experiment, arm, {totals} FROM requests WHERE at >= ? "
                                                     "AND experiment IS NOT NULL GROUP BY experiment, arm", (since,)):
                by_arm.setdefault(experiment, {}).setdefault(arm, _Stats()).add(*sums)
            for strategy, experiment, arm, latency in db.execute(
                    "SELECT strategy, experiment, arm, latency_ms FROM requests WHERE at >= ?", (since,)):
                by_strategy[strategy].latencies.append(latency)
                if experiment:
                    by_arm[experiment][arm].latencies.append(latency)
            for row in db.execute("SELECT id, at, strategy, experiment, arm, outcome, score FROM feedback "
                                  "WHERE at >= ?", (since,)):
                if row[0] not in latest or row[1] > latest[row[0]][1]:
                    latest[row[0]] = row
        for _, _, strategy, experiment, arm, outcome, score in latest.values():
            by_strategy.setdefault(strategy, _Stats()).judge(outcome, score)
            if experiment:
                by_arm.setdefault(experiment, {}).setdefault(arm, _Stats()).judge(outcome, score)
        return {
            "strategies": {name: stats.view() for name, stats in sorted(by_strategy.items())},
            "experiments": {name: {"arms": {arm: s.view() for arm, s in sorted(arms.items())},
                                   "leader": _leader(arms)} for name, arms in sorted(by_arm.items())},
        }


class _Stats:
    def __init__(self) -> None:
        self.requests = self.rules = self.hits = 0
        self.quality_sum = 0.0
        self.latencies: list[float] = []
        self.outcomes = dict.fromkeys(OUTCOMES, 0)
        self.scores: list[float] = []

    def add(self, requests: int, quality: float, rules: int, hits: int) -> None:
        self.requests += requests
        self.quality_sum += quality
        self.rules += rules
        self.hits += hits

    def judge(self, outcome: str, score: float | None) -> None:
        self.outcomes[outcome] += 1
        if score is not None:
            self.scores.append(score)

    def interval(self) -> tuple[float, float] | None:
        """The mean external score's 95% interval (normal approximation); None under 2 scores."""
        n = len(self.scores)
        if n < 2:
            return None
        mean = math.fsum(self.scores) / n
        # Floats, not statistics.stdev's exact fractions: this runs over every score on each `info`.
        variance = math.fsum((x - mean) ** 2 for x in self.scores) / (n - 1)
        half = 1.96 * math.sqrt(variance / n)
        return (round(mean - half, 4), round(mean + half, 4))

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
            "external_score": {"mean": round(math.fsum(self.scores) / len(self.scores), 4) if self.scores else None,
                               "ci95": list(interval) if (interval := self.interval()) else None,
                               "n": len(self.scores)},
        }


def _leader(arms: dict[str, _Stats]) -> str | None:
    """The arm whose external score's 95% interval lies above every other arm's, once they part."""
    intervals = {arm: stats.interval() for arm, stats in arms.items()}
    if len(intervals) < 2 or any(i is None for i in intervals.values()):
        return None
    for arm, (low, _) in intervals.items():
        if all(low > high for other, (_, high) in intervals.items() if other != arm):
            return arm
    return None


def _safe(worker_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in worker_id) or "worker"
