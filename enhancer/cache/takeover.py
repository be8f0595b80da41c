"""Leases and the take-over of departed shards: the file-level steps, safe on a network volume.

Only atomic renames and whole-file replacements are relied on (no locks across hosts):

- a worker's lease is `<shard>/LEASE`, replaced whole at start, its mtime refreshed by the heartbeat;
- a departed shard (lease older than the lease time) is claimed by renaming its directory to
  `.merging-<name>@<claimer>`: of two workers renaming it at once, one rename fails;
- the claimer refreshes the lease inside the claimed directory, so a claimer that dies mid-copy leaves
  it to be claimed again once that lease is stale;
- the entries are copied from a read-only connection, committed in the claimer's own shard, and only
  then is the directory renamed `.merged-...` and deleted. No departed shard is ever written.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from contextlib import closing
from pathlib import Path

log = logging.getLogger("enhancer.cache")

LEASE_FILE = "LEASE"
SHARD_DB = "cache.db"
CLAIMED = ".merging-"  # a departed shard's directory while a worker copies it
MERGED = ".merged-"  # copied and committed: only left to delete
_COLUMNS = "key, raw, store_time, expire_time, access_time, access_count, tag, size, mode, filename, value"
_BATCH_BYTES = 8 << 20


def write_lease(shard: Path, token: str) -> None:
    tmp = shard / f".{LEASE_FILE}.{token}"
    tmp.write_text(token)
    os.replace(tmp, shard / LEASE_FILE)


def last_seen(shard: Path) -> float | None:
    """When the shard's worker last showed life: its lease, else (shards from before leases) its last write."""
    for name in (LEASE_FILE, SHARD_DB):
        try:
            return (shard / name).stat().st_mtime
        except OSError:
            continue
    return None


def claim(shard: Path, token: str, now: float, lease_seconds: float) -> Path | None:
    """Rename a departed shard out of the way; only one worker's rename can succeed."""
    original = shard.name[len(CLAIMED):].split("@")[0] if shard.name.startswith(CLAIMED) else shard.name
    claimed = shard.with_name(f"{CLAIMED}{original}@{token[:12]}")
    try:
        os.rename(shard, claimed)
    except OSError:
        return None  # another worker claimed it first
    seen = last_seen(claimed)
    if seen is not None and now - seen <= lease_seconds:
        # Its worker came back between our look and our rename: give the directory back.
        try:
            os.rename(claimed, shard)
        except OSError:
            pass
        return None
    try:
        write_lease(claimed, token)
    except OSError:
        return None
    return claimed


def departed_rows(path: Path, generation_mtime: float | None) -> list[tuple] | None:
    """The live entries of a claimed shard; None when it cannot be read now (it is retried later)."""
    db = path / SHARD_DB
    try:
        if generation_mtime is not None and db.stat().st_mtime < generation_mtime:
            return []  # last written before the latest clear: every entry is retired
    except OSError:
        return []  # no database: nothing to copy
    try:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            return conn.execute(
                f"SELECT {_COLUMNS} FROM Cache WHERE raw = 1 AND filename IS NULL"
                " AND typeof(value) = 'text' AND (expire_time IS NULL OR expire_time > ?)",
                (time.time(),),
            ).fetchall()
    except sqlite3.OperationalError as exc:
        log.warning("departed cache shard %s unreadable for now: %s", path.name, exc)
        return None
    except sqlite3.DatabaseError as exc:
        log.warning("departed cache shard %s is corrupt, removed: %s", path.name, exc)
        return []


def copy_into(own_db: Path, claimed: list[Path], generation_mtime: float | None) -> tuple[list[Path], int]:
    """Copy the claimed shards' entries into the own shard; return the committed shards and the entry count.

    The insert goes through diskcache's own triggers (entry count), and an entry the own shard
    already holds is kept (the same key is the same answer).
    """
    done: list[Path] = []
    copied = 0
    try:
        own = sqlite3.connect(own_db, timeout=60)
    except sqlite3.Error as exc:
        log.warning("cache shard %s not writable for a take-over: %s", own_db.parent, exc)
        return done, copied
    pending: list[Path] = []
    pending_rows = pending_bytes = 0
    try:
        for path in claimed:
            rows = departed_rows(path, generation_mtime)
            if rows is None:
                continue
            own.executemany(f"INSERT OR IGNORE INTO Cache({_COLUMNS}) VALUES ({', '.join('?' * 11)})", rows)
            pending.append(path)
            pending_rows += len(rows)
            pending_bytes += sum(len(row[10]) for row in rows)
            if pending_bytes > _BATCH_BYTES:
                own.commit()
                done, copied = done + pending, copied + pending_rows
                pending, pending_rows, pending_bytes = [], 0, 0
        own.commit()
        done, copied = done + pending, copied + pending_rows
    except sqlite3.Error as exc:
        log.warning("cache take-over stopped: %s", exc)
        own.rollback()
    finally:
        own.close()
    return done, copied


def mark_copied(done: list[Path]) -> list[Path]:
    """Rename copied shards `.merged-...`: whoever finds one with a stale lease only deletes it."""
    removable = []
    for path in done:
        merged = path.with_name(MERGED + path.name[len(CLAIMED):])
        try:
            os.rename(path, merged)
            removable.append(merged)
        except OSError:
            removable.append(path)
    return removable
