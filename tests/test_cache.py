"""The persistent cache: full keys, shards per worker, generation marker, degradation."""

import multiprocessing
import os
import sqlite3
import time
from pathlib import Path

import diskcache
import pytest

from enhancer.cache import GENERATION_FILE, LEASE_FILE, PromptCache, cache_key


def material(**overrides):
    base = {"prompt": "a cat", "job_type": "sdxl_image_fast", "profile": "sdxl_fast", "system_prompt": None,
            "context": {}, "seed": None, "model": "m"}
    return {**base, **overrides}


@pytest.mark.parametrize("field,value", [
    ("prompt", "a dog"), ("job_type", "sdxl_image_high"), ("profile", "sdxl_high"),
    ("system_prompt", "edge"), ("context", {"k": "v"}), ("seed", 1), ("model", "other"),
])
def test_every_field_that_changes_the_answer_changes_the_key(field, value):
    assert cache_key(material(), 0) != cache_key(material(**{field: value}), 0)


def test_key_is_stable_and_ignores_dict_order():
    assert cache_key({"a": 1, "b": 2}, 0) == cache_key({"b": 2, "a": 1}, 0)
    assert cache_key(material(), 0) != cache_key(material(), 1)


def test_entries_survive_a_restart(tmp_path):
    first = PromptCache(tmp_path, "w1")
    first.set(first.key(material()), {"enhanced_prompt": "x"})
    first.close()
    again = PromptCache(tmp_path, "w1")
    assert again.get(again.key(material())) == {"enhanced_prompt": "x"}


def test_a_worker_reads_other_shards_but_writes_only_its_own(tmp_path):
    writer, reader = PromptCache(tmp_path, "writer"), PromptCache(tmp_path, "reader")
    writer.set(writer.key(material()), {"v": 1})
    assert reader.get(reader.key(material())) == {"v": 1}
    assert len(reader) == 0 and len(writer) == 1


def test_shards_are_opened_without_wal(tmp_path):
    PromptCache(tmp_path, "w").set("k", {"v": 1})
    with sqlite3.connect(tmp_path / "w" / "cache.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


def test_clear_empties_own_shard_and_retires_other_workers_entries(tmp_path):
    a, b = PromptCache(tmp_path, "a"), PromptCache(tmp_path, "b")
    a.set(a.key(material()), {"v": "a"})
    b.set(b.key(material(prompt="dog")), {"v": "b"})
    assert a.clear() == 1
    assert (tmp_path / GENERATION_FILE).read_text() == "1"
    assert b.get(b.key(material(prompt="dog"))) is None
    assert a.get(a.key(material(prompt="dog"))) is None


def test_ttl_expires_entries_and_stats_count_hits_and_misses(tmp_path):
    cache = PromptCache(tmp_path, "w", ttl_seconds=60)
    key = cache.key(material())
    assert cache.get(key) is None
    cache.set(key, {"v": 1})
    assert cache.get(key) == {"v": 1}
    stats = cache.stats()
    assert (stats["hits"], stats["misses"], stats["entries"], stats["ttl_seconds"]) == (1, 1, 1, 60)


def test_missing_volume_degrades_to_local_then_memory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    local = PromptCache(blocker / "cache", "w", fallback_directory=tmp_path / "local")
    assert local.root == tmp_path / "local" and "not writable" in local.warnings[0]
    memory = PromptCache(blocker / "cache", "w", fallback_directory=blocker / "also")
    assert memory.persistent is False and "memory" in memory.warnings[0]
    memory.set("k", {"v": 1})
    assert memory.get("k") == {"v": 1}


def test_corrupt_shard_is_moved_aside_and_recreated(tmp_path):
    shard = tmp_path / "w"
    shard.mkdir()
    (shard / "cache.db").write_bytes(b"this is not a database" * 100)
    cache = PromptCache(tmp_path, "w")
    cache.set("k", {"v": 1})
    assert cache.get("k") == {"v": 1}
    assert any(p.name.startswith("w.corrupt-") for p in tmp_path.iterdir())


def test_a_corrupt_shard_of_another_worker_is_a_miss(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "cache.db").write_bytes(b"garbage" * 100)
    cache = PromptCache(tmp_path, "me")
    assert cache.get("anything") is None


# -- leases: a lookup reads the live shards only, and a departed worker's entries stay hits --------


def shard_dirs(root, *settled):
    """The directories under root once the given workers have deleted the shards they took over."""
    for cache in settled:
        cache.wait_for_cleanup()
    return sorted(p.name for p in root.iterdir() if p.is_dir())


def backdate(path, seconds=10_000):
    past = time.time() - seconds
    os.utime(path, (past, past))


def fill(cache, worker, count):
    for i in range(count):
        cache.set(cache.key({"i": i, "w": worker}), {"i": i, "w": worker})


def all_hits(cache, worker, count):
    return all(cache.get(cache.key({"i": i, "w": worker})) == {"i": i, "w": worker} for i in range(count))


def test_a_worker_that_exited_is_taken_over_and_its_entries_stay_hits_for_the_next_workers(tmp_path):
    old = PromptCache(tmp_path, "old")
    fill(old, "old", 20)
    old.close()  # releases the lease
    first = PromptCache(tmp_path, "first")
    assert shard_dirs(tmp_path, first) == ["first"]
    assert first.stats()["departed_shards_taken_over"] == 1 and len(first) == 20
    assert all_hits(first, "old", 20)
    first.close()
    second = PromptCache(tmp_path, "second")
    assert shard_dirs(tmp_path, second) == ["second"] and all_hits(second, "old", 20)


def test_a_shard_whose_lease_went_stale_is_taken_over_and_a_fresh_one_is_only_read(tmp_path):
    crashed, alive = PromptCache(tmp_path, "crashed", heartbeat=False), PromptCache(tmp_path, "alive")
    fill(crashed, "crashed", 5)
    fill(alive, "alive", 5)
    backdate(tmp_path / "crashed" / LEASE_FILE)
    alive_db = (tmp_path / "alive" / "cache.db").read_bytes()
    newcomer = PromptCache(tmp_path, "newcomer")
    assert shard_dirs(tmp_path, newcomer) == ["alive", "newcomer"]
    assert (tmp_path / "alive" / "cache.db").read_bytes() == alive_db  # never written by another worker
    assert all_hits(newcomer, "crashed", 5) and all_hits(newcomer, "alive", 5)
    assert len(newcomer) == 5 and newcomer.stats()["other_shards"] == 1


def test_shards_written_before_leases_existed_are_taken_over_once_untouched_for_a_lease(tmp_path):
    legacy = diskcache.Cache(str(tmp_path / "legacy"), sqlite_journal_mode="delete", disk_min_file_size=1 << 20)
    legacy.set(cache_key({"p": 1}, 0), '{"v": 1}')
    legacy.close()
    recent = PromptCache(tmp_path, "recent")
    assert "legacy" in shard_dirs(tmp_path)  # written moments ago: its worker may be alive
    assert recent.get(recent.key({"p": 1})) == {"v": 1}
    recent.close()
    backdate(tmp_path / "legacy" / "cache.db")
    later = PromptCache(tmp_path, "later")
    assert "legacy" not in shard_dirs(tmp_path, later) and later.get(later.key({"p": 1})) == {"v": 1}


def test_a_worker_whose_shard_was_taken_over_writes_a_new_one_not_the_taken_one(tmp_path):
    sleeper = PromptCache(tmp_path, "sleeper", heartbeat=False)
    fill(sleeper, "before", 3)
    backdate(tmp_path / "sleeper" / LEASE_FILE)
    taker = PromptCache(tmp_path, "taker")
    assert shard_dirs(tmp_path, taker) == ["taker"]
    fill(sleeper, "after", 3)  # it notices the lost lease before writing
    assert shard_dirs(tmp_path, taker) == ["sleeper", "taker"] and len(sleeper) == 3
    taker.refresh()
    assert all_hits(taker, "before", 3) and all_hits(taker, "after", 3)


def test_a_lookup_sees_a_worker_that_started_later_after_a_refresh(tmp_path):
    early = PromptCache(tmp_path, "early")
    late = PromptCache(tmp_path, "late")
    fill(late, "late", 2)
    early.refresh()  # the heartbeat does this every lease_seconds / 4
    assert all_hits(early, "late", 2)


def test_clear_removes_departed_shards_without_copying_their_retired_entries(tmp_path):
    gone = PromptCache(tmp_path, "gone", heartbeat=False)
    fill(gone, "gone", 5)
    alive = PromptCache(tmp_path, "alive")
    time.sleep(0.05)  # the marker's mtime must be later than the departed shard's last write
    alive.clear()
    backdate(tmp_path / "gone" / LEASE_FILE)
    alive.refresh()
    assert shard_dirs(tmp_path, alive) == ["alive"] and len(alive) == 0
    assert alive.stats()["entries_taken_over"] == 0


def test_shard_directories_stay_about_the_live_workers_over_many_generations(tmp_path):
    live = [PromptCache(tmp_path, f"w{n}") for n in range(3)]
    for generation in range(3, 40):
        departing = live.pop(0)
        fill(departing, departing._shard_name, 2)
        departing.close()
        live.append(PromptCache(tmp_path, f"w{generation}"))
    assert len(shard_dirs(tmp_path, *live)) == len(live)
    newcomer = PromptCache(tmp_path, "newcomer")
    assert all(all_hits(newcomer, f"w{g}", 2) for g in range(37))


def _start_together(directory: str, name: str, barrier) -> None:
    barrier.wait()
    PromptCache(Path(directory), name, heartbeat=False).wait_for_cleanup()  # no close: stays live


def test_two_workers_starting_at_once_take_each_departed_shard_over_exactly_once(tmp_path):
    for n in range(12):
        cache = PromptCache(tmp_path, f"d{n}")
        fill(cache, f"d{n}", 4)
        cache.close()
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    starters = [context.Process(target=_start_together, args=(str(tmp_path), f"s{n}", barrier)) for n in range(2)]
    for process in starters:
        process.start()
    for process in starters:
        process.join(120)
        assert process.exitcode == 0
    assert shard_dirs(tmp_path) == ["s0", "s1"]
    reader = PromptCache(tmp_path, "reader")
    assert all(all_hits(reader, f"d{n}", 4) for n in range(12))
    counts = []
    for name in ("s0", "s1"):
        with sqlite3.connect(tmp_path / name / "cache.db") as db:
            counts.append(db.execute("SELECT COUNT(*) FROM Cache").fetchone()[0])
    assert sum(counts) == 48  # each entry copied once


def test_info_says_which_store_how_many_shards_and_the_lookup_latency(tmp_path):
    a, b = PromptCache(tmp_path, "a"), PromptCache(tmp_path, "b")
    b.get("absent")
    stats = b.stats()
    assert stats["store"] == "diskcache" and stats["shards"] == 2 and stats["other_shards"] == 1
    assert stats["lookup_ms"]["samples"] == 1 and stats["lookup_ms"]["mean"] >= 0
    a.close()


def test_a_copied_shard_left_behind_by_a_worker_that_died_is_deleted_not_copied_again(tmp_path):
    leftover = tmp_path / ".merged-gone@0123456789ab"
    leftover.mkdir()
    (leftover / "cache.db").write_bytes(b"whatever it holds was copied already")
    (leftover / LEASE_FILE).write_text("taker")
    backdate(leftover / LEASE_FILE)
    cache = PromptCache(tmp_path, "w")
    assert shard_dirs(tmp_path, cache) == ["w"] and cache.stats()["entries_taken_over"] == 0


def test_a_start_up_out_of_time_leaves_the_rest_of_the_take_over_to_the_heartbeat(tmp_path, monkeypatch):
    from enhancer.cache import disk

    for n in range(3):
        gone = PromptCache(tmp_path, f"gone{n}")
        fill(gone, f"gone{n}", 2)
        gone.close()
    monkeypatch.setattr(disk, "START_BUDGET_SECONDS", -1.0)  # spent before the first batch
    cache = PromptCache(tmp_path, "w", heartbeat=False)
    assert cache.stats()["departed_shards_taken_over"] == 0 and cache._wake.is_set()
    cache.refresh()  # what the woken heartbeat thread does at once
    assert shard_dirs(tmp_path, cache) == ["w"] and all(all_hits(cache, f"gone{n}", 2) for n in range(3))


def test_a_live_shard_recreated_under_the_same_name_is_read_from_its_new_file(tmp_path):
    reader = PromptCache(tmp_path, "reader")
    first = PromptCache(tmp_path, "x", heartbeat=False)
    reader.refresh()
    backdate(tmp_path / "x" / LEASE_FILE)
    PromptCache(tmp_path, "taker").wait_for_cleanup()  # takes x over, between two of reader's refreshes
    fill(first, "again", 2)  # x notices its lost lease and writes a new shard under its name
    reader.refresh()
    assert all_hits(reader, "again", 2)
