"""The persistent cache: full keys, shards per worker, generation marker, degradation."""

import sqlite3

import pytest

from enhancer.cache import GENERATION_FILE, PromptCache, cache_key


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
