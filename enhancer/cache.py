"""The persistent enhancement cache: one diskcache shard per worker on a shared volume.

SQLite must not be written from several hosts, so each worker writes only its own shard
(`CACHE_DIR/<worker id>/`, rollback journal instead of WAL) and reads the other shards through
read-only SQLite connections. `clear` bumps a generation marker that is part of every key, so a
clear on one worker turns every entry on every worker into a miss without touching their files.
Any cache error is a miss, never a failed job.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

import diskcache

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
GENERATION_FILE = "GENERATION"
_SHARD_DB = "cache.db"
# Entries are small JSON strings; keeping them inside SQLite (not as side files) lets other
# workers read them with a plain read-only connection.
_INLINE_LIMIT = 1 << 20


def cache_key(material: dict[str, Any], generation: int) -> str:
    """Hash of everything that changes an answer, plus the schema version and clear generation."""
    payload = json.dumps(
        {"schema": SCHEMA_VERSION, "generation": generation, **material},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def normalize_prompt(prompt: str) -> str:
    return re.sub(r"\s+", " ", prompt).strip().lower()


class _MemoryShard:
    """Last resort when no directory is writable: bounded, per-process, gone on restart."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._max_entries = max_entries

    def get(self, key: str, default=None):
        return self._entries.get(key, default)

    def set(self, key: str, value: str, expire: float | None = None) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> int:
        count = len(self._entries)
        self._entries.clear()
        return count

    def volume(self) -> int:
        return sum(len(k) + len(v) for k, v in self._entries.items())

    def __len__(self) -> int:
        return len(self._entries)

    def close(self) -> None:
        pass


def _safe_name(worker_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", worker_id)[:128] or "worker"


class PromptCache:
    def __init__(
        self,
        directory: Path,
        worker_id: str,
        size_limit_mb: int = 1024,
        ttl_seconds: int | None = None,
        fallback_directory: Path | None = None,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.warnings: list[str] = []
        self.hits = 0
        self.misses = 0
        self._size_limit = size_limit_mb * 1024 * 1024
        self._shard_name = _safe_name(worker_id)
        self._generation_mtime: int | None = None
        self._generation = 0
        self._baseline_read = False
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
            self._shard = _MemoryShard()
        elif self.root != Path(directory):
            self.warnings.append(f"cache directory {directory} is not writable: using {self.root}")
        for warning in self.warnings:
            log.warning(warning)
        self.generation()  # the baseline: only later changes are clears by other workers
        self._remove_stale_shards()

    # -- opening -------------------------------------------------------------------------------

    def _open_shard(self, root: Path):
        path = root / self._shard_name
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".write-probe"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            log.warning("cache directory %s unusable: %s", root, exc)
            return None
        try:
            return self._diskcache(path)
        except (sqlite3.DatabaseError, OSError) as exc:
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            log.warning("cache shard %s is unreadable (%s): moved to %s", path, exc, aside)
            self.warnings.append(f"corrupt cache shard moved aside to {aside.name}")
            try:
                shutil.move(str(path), str(aside))
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

    def _remove_stale_shards(self) -> None:
        if self.root is None or not self.ttl_seconds:
            return
        cutoff = time.time() - self.ttl_seconds
        for shard in self._other_shards():
            try:
                if (shard / _SHARD_DB).stat().st_mtime < cutoff:
                    shutil.rmtree(shard, ignore_errors=True)
            except OSError:
                continue

    # -- generation marker ---------------------------------------------------------------------

    @property
    def persistent(self) -> bool:
        return self.root is not None

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

    def key(self, material: dict[str, Any]) -> str:
        return cache_key(material, self.generation())

    def get(self, key: str) -> dict[str, Any] | None:
        try:
            raw = self._shard.get(key)
            if raw is None:
                raw = self._read_other_shards(key)
        except Exception as exc:  # any cache failure is a miss
            log.warning("cache read failed: %s", exc)
            raw = None
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
            self._shard.set(key, json.dumps(value, ensure_ascii=False), expire=self.ttl_seconds)
        except Exception as exc:
            log.warning("cache write failed: %s", exc)

    def clear(self) -> int:
        """Empty this worker's shard and retire every other worker's entries; count the removed."""
        removed = self._clear_own_shard()
        self._bump_generation()
        return removed

    def _clear_own_shard(self) -> int:
        try:
            return self._shard.clear()
        except Exception as exc:
            log.warning("cache clear failed: %s", exc)
            return 0

    def _other_shards(self) -> list[Path]:
        if self.root is None:
            return []
        try:
            return sorted(
                p for p in self.root.iterdir()
                if p.is_dir() and p.name != self._shard_name and (p / _SHARD_DB).is_file()
            )
        except OSError:
            return []

    def _read_other_shards(self, key: str) -> str | None:
        now = time.time()
        for shard in self._other_shards():
            try:
                with sqlite3.connect(f"file:{shard / _SHARD_DB}?mode=ro", uri=True, timeout=1) as db:
                    row = db.execute(
                        "SELECT value, expire_time FROM Cache WHERE key = ? AND raw = 1", (key,)
                    ).fetchone()
            except sqlite3.Error as exc:
                log.debug("cache shard %s unreadable: %s", shard.name, exc)
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
        return {
            "directory": str(self.root / self._shard_name) if self.root else None,
            "persistent": self.persistent,
            "entries": len(self),
            "bytes": size,
            "hits": self.hits,
            "misses": self.misses,
            "generation": self.generation(),
            "other_shards": len(self._other_shards()),
            "ttl_seconds": self.ttl_seconds,
            "size_limit_bytes": self._size_limit,
            "warnings": list(self.warnings),
        }

    def close(self) -> None:
        try:
            self._shard.close()
        except Exception:
            pass
