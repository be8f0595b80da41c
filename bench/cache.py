"""Cache cost against the endpoint's age: the landed code ("before") and this one ("after"), one run.

    python bench/cache.py [--before 5078e7a] [--counts 1,100,300,1000] [--entries 10] [--samples 60]
                          [--generations 200] [--live 4] [--no-redis]

1. Departed shards: N shards written by workers that are gone (N from --counts), each with
   --entries entries, on one local directory. A new worker starts (start-up time), looks up absent
   keys (miss) and sampled entries of the departed workers (hit); then it exits and a second new
   worker does the same. Each implementation gets its own copy of the same shards.
2. Generations: --live workers alive at once; --generations times the oldest departs (every other
   one exits cleanly, the others crash: no close, lease left to go stale, simulated by backdating it)
   and a new worker starts and stores 3 entries. Prints the number of shard directories.
3. Redis (CACHE_URL): a redis-server on a free local port (the one requirements-dev.txt installs):
   restart, two workers, clear, and a server killed and restarted in the middle of 300 jobs.

"Before" is enhancer/cache.py at --before (the code this change replaced), loaded from git.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import diskcache
from _common import ROOT

from enhancer.cache import PromptCache, cache_key, redis_store

BEFORE_REF = "5078e7a"  # main before issue 12: enhancer/cache.py with one shard per worker id ever seen


def load_before(ref: str):
    source = subprocess.run(
        ["git", "show", f"{ref}:enhancer/cache.py"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    path = Path(tempfile.mkdtemp(prefix="cache-before-")) / "cache_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("cache_before", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PromptCache


def entry(shard: int, i: int) -> tuple[str, dict]:
    return cache_key({"shard": shard, "i": i}, 0), {"enhanced_prompt": f"answer {shard}/{i}", "pad": "x" * 300}


def build_departed(root: Path, count: int, entries: int) -> None:
    """`count` shards of departed workers, written the way a worker writes them, last used a day ago."""
    import json

    template = root / ".template"
    cache = diskcache.Cache(str(template), sqlite_journal_mode="delete", disk_min_file_size=1 << 20,
                            eviction_policy="least-recently-stored")
    for i in range(entries):
        key, value = entry(0, i)
        cache.set(key, json.dumps(value))
    cache.close()
    day_ago = time.time() - 86_400
    for shard in range(count):
        path = root / f"departed-{shard:04d}"
        shutil.copytree(template, path)
        with sqlite3.connect(path / "cache.db") as db:
            rows = db.execute("SELECT rowid FROM Cache ORDER BY rowid").fetchall()
            db.executemany("UPDATE Cache SET key = ?, value = ? WHERE rowid = ?", [
                (entry(shard, i)[0], json.dumps(entry(shard, i)[1]), rowid) for i, (rowid,) in enumerate(rows)
            ])
        (path / "LEASE").write_text("gone")
        for name in ("LEASE", "cache.db"):
            os.utime(path / name, (day_ago, day_ago))
    shutil.rmtree(template)


def timed(fn):
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def departed_run(cls, fixture: Path, count: int, entries: int, samples: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="bench-shards-"))
    for shard in range(count):
        shutil.copytree(fixture / f"departed-{shard:04d}", root / f"departed-{shard:04d}", copy_function=shutil.copy2)
    sampled = [entry(s % count, (s * 7) % entries) for s in range(samples)]
    row: dict = {}
    for worker in ("new-1", "new-2"):
        cache, startup = timed(lambda: cls(root, worker))
        misses = []
        for i in range(samples):
            key = cache.key({"absent": worker, "i": i})
            _, seconds = timed(lambda: cache.get(key))
            misses.append(seconds)
        hits, found = [], 0
        for key, value in sampled:
            got, seconds = timed(lambda: cache.get(key))
            hits.append(seconds)
            found += got == value
        row[worker] = {"startup_s": startup, "miss_ms": 1000 * statistics.mean(misses),
                       "hit_ms": 1000 * statistics.mean(hits), "found": found}
        cache.close()
    row["dirs_after"] = sum(p.is_dir() for p in root.iterdir())
    shutil.rmtree(root, ignore_errors=True)
    return row


def generations_run(cls, after: bool, live_count: int, generations: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="bench-generations-"))
    live = []
    for n in range(live_count):
        live.append(cls(root, f"w{n}"))
    counts = []
    for g in range(live_count, live_count + generations):
        departing = live.pop(0)
        if g % 2 == 0:
            departing.close()
        elif after:  # a crash: the heartbeat stops, the lease is not released, and goes stale
            departing._stop.set()
            departing._wake.set()
            departing._thread.join()
            lease = root / departing._shard_name / "LEASE"
            past = time.time() - 10 * departing.lease_seconds
            os.utime(lease, (past, past))
        worker = cls(root, f"w{g}")
        for i in range(3):
            worker.set(worker.key({"g": g, "i": i}), {"g": g, "i": i})
        live.append(worker)
        counts.append(sum(p.is_dir() for p in root.iterdir()))
    reader = cls(root, "reader")
    wanted = [(g, i) for g in range(live_count, live_count + generations) for i in range(3)]
    found = sum(reader.get(reader.key({"g": g, "i": i})) == {"g": g, "i": i} for g, i in wanted)
    for cache in live + [reader]:
        cache.close()
    shutil.rmtree(root, ignore_errors=True)
    return {"counts": counts, "found": found, "wanted": len(wanted)}


# -- Redis -------------------------------------------------------------------------------------------


def redis_binary() -> str | None:
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import redis_server_binary

    return redis_server_binary()


def redis_run() -> list[str]:
    binary = redis_binary()
    if binary is None:
        return ["redis: no redis-server binary (make setup-dev installs one): skipped"]
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import RedisServer

    server = RedisServer(binary, Path(tempfile.mkdtemp(prefix="bench-redis-")))
    server.start()
    out = [f"redis-server {subprocess.run([binary, '--version'], capture_output=True, text=True).stdout.split()[2]}"
           f" on 127.0.0.1:{server.port}"]
    try:
        first = redis_store.RedisCache(server.url)
        for i in range(50):
            first.set(first.key({"r": i}), {"r": i})
        first.close()
        restarted = redis_store.RedisCache(server.url)
        kept = sum(restarted.get(restarted.key({"r": i})) == {"r": i} for i in range(50))
        out.append(f"restart keeps entries: {kept}/50 hits on the restarted worker")
        other = redis_store.RedisCache(server.url)
        for i in range(50, 100):
            other.set(other.key({"r": i}), {"r": i})
        shared = sum(restarted.get(restarted.key({"r": i})) == {"r": i} for i in range(100))
        out.append(f"two workers share them: {shared}/100 hits on one worker for entries both wrote")
        misses, hits = [], []
        for i in range(200):
            key = other.key({"absent": i})
            misses.append(timed(lambda: other.get(key))[1])
            key = other.key({"r": i % 100})
            hits.append(timed(lambda: other.get(key))[1])
        out.append(f"get() on a local server: miss {1000 * statistics.mean(misses):.3f} ms,"
                   f" hit {1000 * statistics.mean(hits):.3f} ms (key() adds one GET for the generation)")
        removed = other.clear()
        after_clear = sum(restarted.get(restarted.key({"r": i})) is not None for i in range(100))
        out.append(f"a clear on one reaches the other: clear removed {removed}; the other worker then"
                   f" finds {after_clear}/100, generation {restarted.generation()}")

        # 300 jobs: lookup, on a miss "generate" and store. The server is killed at job 100 and
        # started again (empty: the bench server keeps nothing on disk) at job 200.
        worker = redis_store.RedisCache(server.url)
        failed, phases = 0, {"up": [0, 0], "down": [0, 0], "back": [0, 0]}
        for job in range(300):
            if job == 100:
                server.kill()
            if job == 200:
                server.start()
                time.sleep(redis_store.RETRY_AFTER_SECONDS)  # the worker leaves a failed server alone this long
            phase = "up" if job < 100 else "down" if job < 200 else "back"
            try:
                key = worker.key({"job": job % 20})
                cached = worker.get(key)
                if cached is None:
                    worker.set(key, {"job": job % 20})
                phases[phase][0 if cached is not None else 1] += 1
            except Exception:
                failed += 1
        for phase, (hit, miss) in phases.items():
            out.append(f"jobs while the server is {phase:4}: {hit:3} hits, {miss:3} misses")
        out.append(f"failed jobs: {failed}/300; errors seen by the cache: {worker.errors}")
    finally:
        server.kill()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", default=BEFORE_REF)
    parser.add_argument("--counts", default="1,100,300,1000")
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--samples", type=int, default=60)
    parser.add_argument("--generations", type=int, default=200)
    parser.add_argument("--live", type=int, default=4)
    parser.add_argument("--no-redis", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    Before = load_before(args.before)
    counts = [int(c) for c in args.counts.split(",")]
    fixture = Path(tempfile.mkdtemp(prefix="bench-departed-"))
    build_departed(fixture, max(counts), args.entries)
    print(f"departed shards: {args.entries} entries each, local disk ({fixture.parent}); "
          f"{args.samples} misses and {args.samples} sampled departed entries per worker; before = {args.before}")
    header = (f"{'shards':>6} {'impl':6} {'start-1 s':>9} {'miss-1 ms':>9} {'hit-1 ms':>8} {'found-1':>8}"
              f" {'start-2 s':>9} {'miss-2 ms':>9} {'hit-2 ms':>8} {'found-2':>8} {'dirs after':>10}")
    print(header)
    for count in counts:
        rows = {}
        for name, cls in (("before", Before), ("after", PromptCache)):
            row = departed_run(cls, fixture, count, args.entries, args.samples)
            rows[name] = row
            a, b = row["new-1"], row["new-2"]
            print(f"{count:>6} {name:6} {a['startup_s']:>9.3f} {a['miss_ms']:>9.3f} {a['hit_ms']:>8.3f}"
                  f" {a['found']:>4}/{args.samples:<3} {b['startup_s']:>9.3f} {b['miss_ms']:>9.3f} {b['hit_ms']:>8.3f}"
                  f" {b['found']:>4}/{args.samples:<3} {row['dirs_after']:>10}")
        ratio = rows["before"]["new-1"]["miss_ms"] / max(rows["after"]["new-1"]["miss_ms"], 1e-9)
        print(f"{'':>6} {'ratio':6} miss before/after (first new worker): {ratio:.1f}x")
    shutil.rmtree(fixture, ignore_errors=True)

    print(f"\ngenerations: {args.live} live workers, {args.generations} departures (every other one a crash)")
    for name, cls, after in (("before", Before, False), ("after", PromptCache, True)):
        result = generations_run(cls, after, args.live, args.generations)
        marks = [g for g in (10, 50, 100, 200, 500) if g <= len(result["counts"])]
        shown = ", ".join(f"after {g}: {result['counts'][g - 1]}" for g in marks)
        print(f"{name:6} shard directories {shown}; max {max(result['counts'])};"
              f" a new worker finds {result['found']}/{result['wanted']} of every generation's entries")

    if not args.no_redis:
        print("\nCACHE_URL (redis):")
        for line in redis_run():
            print("  " + line)


if __name__ == "__main__":
    main()
