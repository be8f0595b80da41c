"""The records on the volume: each worker writes only its own SQLite file,
`OUTCOMES_DIR/<worker id>.sqlite3`, without WAL, and reads the others' read-only (the cache's rule,
DESIGN.md "Cache"), so counts seen from any worker are the endpoint's. A reset empties the own
file and writes a marker that every worker honours: older records anywhere stop counting.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterable

from .records import Feedback, OutcomeStore, Request, Stats, named, summary_of


_RESET_MARKER = "reset"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (id TEXT PRIMARY KEY, at REAL, strategy TEXT, experiment TEXT, arm TEXT,
                                     quality REAL, rules INTEGER, cache_hit INTEGER, latency_ms REAL);
CREATE TABLE IF NOT EXISTS feedback (id TEXT PRIMARY KEY, at REAL, strategy TEXT, experiment TEXT, arm TEXT,
                                     outcome TEXT, score REAL);
"""


class VolumeStore(OutcomeStore):
    def __init__(self, directory: Path, worker_id: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"{_safe(worker_id)}.sqlite3"
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=DELETE")  # no WAL: other hosts read this file
        self._db.executescript(_SCHEMA)
        self._db_lock = threading.Lock()  # the own file's connection
        super().__init__()

    def _write(self, batch: list[Request | Feedback]) -> None:
        with self._db_lock:
            try:
                self._db.execute("BEGIN")
                for item in batch:
                    if isinstance(item, Request):
                        self._db.execute("INSERT OR REPLACE INTO requests VALUES (?,?,?,?,?,?,?,?,?)",
                                         (item.id, item.at, item.strategy, item.experiment, item.arm, item.quality,
                                          int(item.rules), int(item.cache_hit), item.latency_ms))
                    else:
                        judged = item.request
                        self._db.execute("INSERT OR REPLACE INTO feedback VALUES (?,?,?,?,?,?,?)",
                                         (judged.id, item.at, judged.strategy, judged.experiment, judged.arm,
                                          item.outcome, item.score))
                self._db.execute("COMMIT")
            except sqlite3.Error:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def reset(self) -> int:
        self.flush()
        since = self._since()
        retired = sum(db.execute(f"SELECT COUNT(*) FROM {table} WHERE at >= ?", (since,)).fetchone()[0]
                      for db in self._files() for table in ("requests", "feedback"))
        with self._db_lock:
            self._db.executescript("DELETE FROM requests; DELETE FROM feedback;")
        marker = self.directory / _RESET_MARKER
        temporary = marker.with_suffix(".tmp")
        temporary.write_text(repr(time.time()), encoding="utf-8")
        temporary.replace(marker)
        return retired

    def _close(self) -> None:
        with self._db_lock:
            self._db.close()

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
        since = self._since()
        by_strategy, by_arm = named(strategies, experiments)
        latest: dict[str, tuple] = {}
        # Sums are SQLite's (GROUP BY); only the latencies, for their percentiles, come over row by row.
        totals = "COUNT(*), SUM(quality), SUM(rules), SUM(cache_hit)"
        for db in self._files():
            for strategy, *sums in db.execute(f"SELECT strategy, {totals} FROM requests WHERE at >= ? "
                                              "GROUP BY strategy", (since,)):
                by_strategy.setdefault(strategy, Stats()).add(*sums)
            for experiment, arm, *sums in db.execute(f"SELECT experiment, arm, {totals} FROM requests WHERE at >= ? "
                                                     "AND experiment IS NOT NULL GROUP BY experiment, arm", (since,)):
                by_arm.setdefault(experiment, {}).setdefault(arm, Stats()).add(*sums)
            for strategy, experiment, arm, latency in db.execute(
                    "SELECT strategy, experiment, arm, latency_ms FROM requests WHERE at >= ?", (since,)):
                by_strategy[strategy].latencies.append(latency)
                if experiment:
                    by_arm[experiment][arm].latencies.append(latency)
            # A request judged through two workers has a row in each file: the later one counts.
            for row in db.execute("SELECT id, at, strategy, experiment, arm, outcome, score FROM feedback "
                                  "WHERE at >= ?", (since,)):
                if row[0] not in latest or row[1] > latest[row[0]][1]:
                    latest[row[0]] = row
        for _, _, strategy, experiment, arm, outcome, score in latest.values():
            by_strategy.setdefault(strategy, Stats()).judge(outcome, score)
            if experiment:
                by_arm.setdefault(experiment, {}).setdefault(arm, Stats()).judge(outcome, score)
        return summary_of(by_strategy, by_arm)


def _safe(worker_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in worker_id) or "worker"
