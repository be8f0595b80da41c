"""CACHE_URL: a Redis server as the shared cache, tested against a real redis-server (see conftest)."""

from __future__ import annotations

import asyncio

import pytest
import redis

from enhancer.cache import open_cache, redis_store
from enhancer.cache.redis_store import RedisCache, redacted
from enhancer.config import Settings
from enhancer.service import EnhancementService


@pytest.fixture(autouse=True)
def retry_at_once(monkeypatch):
    monkeypatch.setattr(redis_store, "RETRY_AFTER_SECONDS", 0.0)


def material(prompt="a cat"):
    return {"prompt": prompt, "job_type": "sdxl_image_fast", "model": "m"}


def test_cache_url_selects_the_redis_store_and_the_directory_stays_the_default(redis_server, tmp_path):
    chosen = open_cache(Settings.from_env({"CACHE_URL": redis_server.url, "CACHE_DIR": str(tmp_path)}))
    assert isinstance(chosen, RedisCache) and chosen.stats()["store"] == "redis"
    default = open_cache(Settings.from_env({"CACHE_DIR": str(tmp_path)}))
    assert default.stats()["store"] == "diskcache"
    default.close()


def test_a_cache_url_of_another_scheme_stops_the_worker_with_its_name():
    with pytest.raises(ValueError, match="CACHE_URL"):
        Settings.from_env({"CACHE_URL": "http://example.invalid"})


def test_entries_survive_a_worker_restart_and_two_workers_share_them(redis_server):
    first = RedisCache(redis_server.url)
    first.set(first.key(material()), {"enhanced_prompt": "x"})
    first.close()
    restarted, other = RedisCache(redis_server.url), RedisCache(redis_server.url)
    assert restarted.get(restarted.key(material())) == {"enhanced_prompt": "x"}
    assert other.get(other.key(material())) == {"enhanced_prompt": "x"}
    other.set(other.key(material("a dog")), {"enhanced_prompt": "y"})
    assert restarted.get(restarted.key(material("a dog"))) == {"enhanced_prompt": "y"}


def test_a_clear_on_one_worker_reaches_the_other(redis_server):
    a, b = RedisCache(redis_server.url), RedisCache(redis_server.url)
    a.set(a.key(material()), {"v": 1})
    b.set(b.key(material("a dog")), {"v": 2})
    assert b.clear() == 2
    assert a.get(a.key(material())) is None and a.get(a.key(material("a dog"))) is None
    assert a.generation() == b.generation() == 1 and len(a) == 0


def test_entries_carry_the_ttl_on_the_server(redis_server):
    cache = RedisCache(redis_server.url, ttl_seconds=60)
    cache.set(cache.key(material()), {"v": 1})
    client = redis.Redis.from_url(redis_server.url)
    assert 0 < client.ttl(f"prompt-enhancer:entry:{cache.key(material())}") <= 60


def test_the_size_bound_evicts_the_least_recently_stored(redis_server):
    cache = RedisCache(redis_server.url)
    cache._size_limit = 1000  # bytes: about six of the entries below
    keys = [cache.key(material(f"p{i}")) for i in range(20)]
    for i, key in enumerate(keys):
        cache.set(key, {"v": i, "pad": "x" * 60})
    assert cache.stats()["bytes"] <= 1000
    assert cache.get(keys[0]) is None and cache.get(keys[-1]) == {"v": 19, "pad": "x" * 60}
    client = redis.Redis.from_url(redis_server.url)
    assert len(client.keys("prompt-enhancer:entry:*")) == len(cache)


def test_a_killed_server_turns_into_misses_and_the_cache_recovers_when_it_returns(redis_server):
    cache = RedisCache(redis_server.url)
    cache.set(cache.key(material()), {"v": 1})
    redis_server.kill()
    assert cache.get(cache.key(material())) is None  # a miss, not an error
    cache.set(cache.key(material("a dog")), {"v": 2})  # dropped, not raised
    assert cache.clear() == 0 and cache.stats()["available"] is False and cache.errors >= 1
    redis_server.start()  # empty: the test server keeps nothing on disk
    cache.set(cache.key(material("a dog")), {"v": 2})
    assert cache.get(cache.key(material("a dog"))) == {"v": 2} and cache.stats()["available"] is True


def test_a_server_down_at_start_is_a_warning_not_a_failed_start(redis_server):
    redis_server.kill()
    cache = RedisCache(redis_server.url)
    assert "unreachable" in cache.warnings[0] and cache.get("k") is None


def test_jobs_succeed_while_the_server_is_down_and_info_names_the_store(redis_server, tmp_path):
    settings = Settings(cache_url=redis_server.url, worker_id="w", cache_dir=tmp_path)
    service = EnhancementService(settings, None, open_cache(settings), model_error="ModelUnavailable: none")
    redis_server.kill()
    answer = asyncio.run(service.handle({"prompt": "a red fox"}))
    assert answer["success"] is True and answer["cache_hit"] is False
    info = asyncio.run(service.handle({"action": "info"}))
    assert info["cache"]["store"] == "redis" and info["cache"]["available"] is False


def test_the_password_in_the_url_is_not_reported():
    assert redacted("rediss://user:s3cret@host:6380/0") == "rediss://user:***@host:6380/0"
    assert redacted("redis://host:6379") == "redis://host:6379"
