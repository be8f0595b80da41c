"""The default store: one diskcache shard per live worker on a shared volume, held by a lease.

SQLite must not be written from several hosts, so each worker writes only its own shard
(`CACHE_DIR/<worker id>/`, rollback journal instead of WAL) and reads the other live shards through
read-only connections that it keeps open. Each shard holds a LEASE file whose mtime its worker
refreshes every `lease_seconds / 4`; a shard whose lease is older than `lease_seconds` (or that its
worker released on a clean exit) is departed. A worker claims a departed shard by renaming its
directory (atomic on a network filesystem too, so two workers never both claim it), copies its live
entries into its own shard and removes it. So the shards on the volume are about the live workers,
a lookup reads only those, and nothing a departed worker wrote is lost.

`clear` bumps a generation marker that is part of every key, so a clear on one worker turns every
entry on every worker into a miss without touching their files. Any cache error is a miss.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import diskcache

from .base import CacheBase
from .memory import MemoryShard
from .takeover import (
    CLAIMED,
    LEASE_FILE,
    MERGED,
    SHARD_DB,
    claim,
    copy_into,
    last_seen,
    mark_copied,
    write_lease,
)

log = logging.getLogger("enhancer.cache")

GENERATION_FILE = "GENERATION"
# Start-up copies departed shards for at most this long (a network volume makes each file step a
# round trip); the heartbeat thread takes over the rest right after.
START_BUDGET_SECONDS = 3.0
_TAKE_OVER_BATCH = 64
# Entries are small JSON strings; keeping them inside SQLite (not as side files) lets other
# workers read them with a plain read-only connection.
_INLINE_LIMIT = 1 << 20


def _safe_name(worker_id: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", worker_id)[:128].lstrip(".")
    return name or "worker"


class PromptCache(CacheBase):
    store = "diskcache"

    def __init__(
        self,
        directory: Path,
        worker_id: str,
        size_limit_mb: int = 1024,
        ttl_seconds: int | None = None,
        fallback_directory: Path | None = None,
        lease_seconds: int = 120,
        heartbeat: bool = True,
    ) -> None:
        super().__init__()
        self.ttl_seconds = ttl_seconds
        self.lease_seconds = max(1, lease_seconds)
        self.merged_shards = 0
        self.merged_entries = 0
        self._size_limit = size_limit_mb * 1024 * 1024
        self._shard_name = _safe_name(worker_id)
        self._token = uuid.uuid4().hex
        self._generation_mtime: int | None = None
        self._generation = 0
        self._baseline_read = False
        self._lock = threading.RLock()  # own shard: writes, reopening, merging
        self._readers: dict[str, tuple[int, sqlite3.Connection]] = {}  # name: (inode of cache.db, connection)
        self._readers_lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._cleanup: threading.Thread | None = None
        candidates = [Path(directory)]
        if fallback_directory is not None:
            candidates.append(Path(fallback_directory))
        else:
            candidates.append(Path(tempfile.gettempdir()) / "prompt-enhancer-cache")
        self.root: Path | None = None
        self._shard: Any = None
        for candidate in candidates:
            shard = self._open_shard(candidate)
            if shard is not None:
                self.root, self._shard = candidate, shard
                break
        if self._shard is None:
            self.warnings.append("no cache directory is writable: caching in memory only")
            self._shard = MemoryShard()
            self.store = "memory"
        elif self.root != Path(directory):
            self.warnings.append(f"cache directory {directory} is not writable: using {self.root}")
        for warning in self.warnings:
            log.warning(warning)
        self.generation()  # the baseline: only later changes are clears by other workers
        if self.root is not None:
            self.refresh(budget=START_BUDGET_SECONDS)  # takes over the departed shards, opens the live ones
            if heartbeat:
                self._thread = threading.Thread(target=self._beat, name="cache-lease", daemon=True)
                self._thread.start()

    # -- opening -------------------------------------------------------------------------------

    @property
    def _own(self) -> Path:
        assert self.root is not None
        return self.root / self._shard_name

    def _open_shard(self, root: Path):
        path = root / self._shard_name
        for _ in range(3):
            try:
                path.mkdir(parents=True, exist_ok=True)
                write_lease(path, self._token)  # also proves the directory writable
            except OSError as exc:
                log.warning("cache directory %s unusable: %s", root, exc)
                return None
            shard = self._open_diskcache(path)
            if shard is None or (path / LEASE_FILE).is_file():
                return shard
            # Another worker took the directory for a departed shard between our lease and our open.
            shard.close()
        return None

    def _open_diskcache(self, path: Path):
        try:
            return self._diskcache(path)
        except (sqlite3.DatabaseError, OSError) as exc:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            log.warning("cache shard %s is unreadable (%s): moved to %s", path, exc, aside)
            self.warnings.append(f"corrupt cache shard moved aside to {aside.name}")
            try:
                shutil.move(str(path), str(aside))
                (aside / LEASE_FILE).unlink(missing_ok=True)  # set aside, never taken over
                path.mkdir(parents=True, exist_ok=True)
                write_lease(path, self._token)
                return self._diskcache(path)
            except (sqlite3.DatabaseError, OSError) as exc2:
                log.warning("cache shard %s could not be recreated: %s", path, exc2)
                return None

    def _diskcache(self, path: Path) -> diskcache.Cache:
        cache = diskcache.Cache(
            str(path),
            size_limit=self._size_limit,
            sqlite_journal_mode="delete",
            disk_min_file_size=_INLINE_LIMIT,
            eviction_policy="least-recently-stored",
        )
        len(cache)  # touches the tables, so a corrupt file fails here and not on the first job
        return cache

    def _writable_shard(self):
        """The own shard, reopened fresh if another worker took it over while we looked dead."""
        if self.root is not None and not (self._own / LEASE_FILE).is_file():
            log.warning("cache lease on %s was lost: opening a new shard", self._own)
            try:
                self._shard.close()
            except Exception:
                pass
            shard = self._open_shard(self.root)
            self._shard = shard if shard is not None else MemoryShard()
        return self._shard

    # -- leases: live and departed shards ------------------------------------------------------

    def _beat(self) -> None:
        while True:
            self._wake.wait(self.lease_seconds / 4)
            self._wake.clear()
            if self._stop.is_set():
                return
            try:
                self.refresh()
            except Exception as exc:
                log.warning("cache refresh failed: %s", exc)

    def _heartbeat(self) -> float:
        """Refresh the own lease; its new mtime is "now" on the volume's clock, whatever ours says."""
        with self._lock:
            self._writable_shard()
            lease = self._own / LEASE_FILE
            try:
                os.utime(lease)
                return lease.stat().st_mtime
            except OSError:
                return time.time()

    def refresh(self, budget: float | None = None) -> None:
        """Heartbeat, take over departed shards, and open read-only connections to the live ones."""
        if self.root is None:
            return
        with self._refresh_lock:
            self._refresh(budget)

    def _refresh(self, budget: float | None) -> None:
        now = self._heartbeat()
        live: list[Path] = []
        departed: list[Path] = []
        copied: list[Path] = []
        try:
            entries = list(os.scandir(self.root))
        except OSError as exc:
            log.warning("cache directory %s unreadable: %s", self.root, exc)
            entries = []
        for entry in entries:
            if entry.name == self._shard_name or ".corrupt-" in entry.name:
                continue
            try:
                if not entry.is_dir(follow_symlinks=False):
                    continue
            except OSError:
                continue
            seen = last_seen(Path(entry.path))
            if seen is None:
                continue  # not a shard
            stale = now - seen > self.lease_seconds
            if entry.name.startswith(MERGED):
                if stale:  # its taker died before deleting it
                    copied.append(Path(entry.path))
            elif stale:
                departed.append(Path(entry.path))
            elif not entry.name.startswith(CLAIMED):
                live.append(Path(entry.path))
        if departed:
            copied += self._take_over(departed, now, budget)
        self._open_readers(live)
        if copied:
            self._remove_in_background(copied)

    def _remove_in_background(self, paths: list[Path]) -> None:
        """Deleting files is the slow part of a take-over on some filesystems: it does not delay start-up."""
        previous = self._cleanup

        def remove() -> None:
            if previous is not None:
                previous.join()
            for path in paths:
                shutil.rmtree(path, ignore_errors=True)

        self._cleanup = threading.Thread(target=remove, name="cache-cleanup", daemon=True)
        self._cleanup.start()

    def wait_for_cleanup(self, timeout: float | None = None) -> None:
        """Until the shards taken over so far are deleted (tests and the bench count directories)."""
        if self._cleanup is not None:
            self._cleanup.join(timeout)

    def _take_over(self, departed: list[Path], now: float, budget: float | None) -> list[Path]:
        """Claim, copy and commit departed shards, a batch at a time, until `budget` seconds are spent;
        return the copied ones, renamed, to be deleted. What is left waits for the background refresh."""
        with self._lock:
            shard = self._writable_shard()
        if not isinstance(shard, diskcache.Cache):
            return []
        started = time.monotonic()
        generation_mtime = self._generation_file_mtime()
        removable: list[Path] = []
        for first in range(0, len(departed), _TAKE_OVER_BATCH):
            if budget is not None and time.monotonic() - started > budget:
                self._wake.set()  # the heartbeat thread goes on at once
                break
            batch = departed[first:first + _TAKE_OVER_BATCH]
            claimed = [c for c in (claim(p, self._token, now, self.lease_seconds) for p in batch) if c]
            # The copy runs outside the lock: SQLite serialises it with this worker's own writes.
            done, copied = copy_into(self._own / SHARD_DB, claimed, generation_mtime)
            self.merged_shards += len(done)
            self.merged_entries += copied
            removable += mark_copied(done)
        if removable:
            try:
                shard.cull()  # the size limit holds for what was taken over too
            except Exception as exc:
                log.warning("cache cull failed: %s", exc)
        return removable

    def _open_readers(self, live: list[Path]) -> None:
        """One read-only connection per live shard, reopened when its file is a new one (same name)."""
        wanted: dict[str, tuple[Path, int]] = {}
        for path in live:
            try:
                wanted[path.name] = (path / SHARD_DB, (path / SHARD_DB).stat().st_ino)
            except OSError:
                continue
        with self._readers_lock:
            for name in list(self._readers):
                if name not in wanted or wanted[name][1] != self._readers[name][0]:
                    self._readers.pop(name)[1].close()
            for name, (db, inode) in wanted.items():
                if name in self._readers:
                    continue
                try:
                    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1, check_same_thread=False)
                except sqlite3.Error as exc:
                    log.debug("cache shard %s unreadable: %s", name, exc)
                    continue
                self._readers[name] = (inode, connection)

    # -- generation marker ---------------------------------------------------------------------

    @property
    def persistent(self) -> bool:
        return self.root is not None

    def _generation_file_mtime(self) -> float | None:
        try:
            return (self.root / GENERATION_FILE).stat().st_mtime if self.root else None
        except OSError:
            return None

    def generation(self) -> int:
        if self.root is None:
            return self._generation
        try:
            mtime = (self.root / GENERATION_FILE).stat().st_mtime_ns
        except OSError:
            mtime = None  # no worker has cleared yet: generation 0
        if mtime is not None and mtime != self._generation_mtime:
            try:
                generation = int((self.root / GENERATION_FILE).read_text().strip() or 0)
            except (OSError, ValueError):
                return self._generation
            if self._baseline_read and generation != self._generation:
                # Another worker cleared the cache: our entries are unreachable now, free the space.
                self._clear_own_shard()
            self._generation, self._generation_mtime = generation, mtime
        self._baseline_read = True
        return self._generation

    def _bump_generation(self) -> None:
        new = self.generation() + 1
        self._generation = new
        if self.root is None:
            return
        tmp = self.root / f".{GENERATION_FILE}.{self._shard_name}.tmp"
        try:
            tmp.write_text(str(new))
            os.replace(tmp, self.root / GENERATION_FILE)
        except OSError as exc:
            log.warning("could not write the cache generation marker: %s", exc)

    # -- entries -------------------------------------------------------------------------------

    def _get_raw(self, key: str) -> str | None:
        raw = self._shard.get(key)
        return raw if raw is not None else self._read_other_shards(key)

    def _set_raw(self, key: str, raw: str) -> None:
        with self._lock:
            self._writable_shard().set(key, raw, expire=self.ttl_seconds)

    def clear(self) -> int:
        """Empty this worker's shard and retire every other worker's entries; count the removed."""
        removed = self._clear_own_shard()
        self._bump_generation()
        try:
            self.refresh()  # departed shards are all older than the new generation: removed now
        except Exception as exc:
            log.warning("cache refresh after clear failed: %s", exc)
        return removed

    def _clear_own_shard(self) -> int:
        try:
            with self._lock:
                return self._writable_shard().clear()
        except Exception as exc:
            log.warning("cache clear failed: %s", exc)
            return 0

    def _read_other_shards(self, key: str) -> str | None:
        now = time.time()
        with self._readers_lock:
            for name, (_, db) in self._readers.items():
                try:
                    row = db.execute(
                        "SELECT value, expire_time FROM Cache WHERE key = ? AND raw = 1", (key,)
                    ).fetchone()
                except sqlite3.Error as exc:
                    log.debug("cache shard %s unreadable: %s", name, exc)
                    continue
                if row and isinstance(row[0], str) and (row[1] is None or row[1] > now):
                    return row[0]
        return None

    # -- reporting -----------------------------------------------------------------------------

    def __len__(self) -> int:
        try:
            return len(self._shard)
        except Exception:
            return 0

    def stats(self) -> dict[str, Any]:
        try:
            size = self._shard.volume()
        except Exception:
            size = 0
        with self._readers_lock:
            others = len(self._readers)
        return {
            "store": self.store,
            "directory": str(self._own) if self.root else None,
            "persistent": self.persistent,
            "entries": len(self),
            "bytes": size,
            "hits": self.hits,
            "misses": self.misses,
            "generation": self.generation(),
            "shards": others + 1,
            "other_shards": others,
            "departed_shards_taken_over": self.merged_shards,
            "entries_taken_over": self.merged_entries,
            "lease_seconds": self.lease_seconds,
            "lookup_ms": self.lookup_ms(),
            "ttl_seconds": self.ttl_seconds,
            "size_limit_bytes": self._size_limit,
            "warnings": list(self.warnings),
        }

    def close(self) -> None:
        """Stop the heartbeat and release the lease, so the next worker takes this shard over at once."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.wait_for_cleanup(timeout=30)
        with self._readers_lock:
            for _, db in self._readers.values():
                db.close()
            self._readers.clear()
        with self._lock:
            try:
                self._shard.close()
            except Exception:
                pass
            if self.root is not None:
                try:
                    os.utime(self._own / LEASE_FILE, (0, 0))
                except OSError:
                    pass
