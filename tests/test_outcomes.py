"""The strategies' request and outcome records (enhancer/outcomes/), shared by the workers of a volume or
of a Redis server, each test on both."""

from __future__ import annotations

import asyncio

import pytest
import redis

from enhancer.cache import PromptCache
from enhancer.config import Settings
from enhancer.outcomes import OutcomeStore, Request, VolumeStore, open_store
from enhancer.outcomes.redis_store import RedisStore
from enhancer.service import EnhancementService


def request(rid: str, strategy: str = "terse", arm: str | None = None, quality: float = 0.5, rules: bool = False,
            hit: bool = False, latency: float = 10.0) -> Request:
    return Request(rid, strategy, "tone" if arm else None, arm, quality, rules, hit, latency)


@pytest.fixture(params=["volume", "redis"])
def workers(request, tmp_path):
    """Two workers' stores on one shared store: a volume directory, or a Redis server (CACHE_URL)."""
    if request.param == "redis":
        url = request.getfixturevalue("redis_server").url
        one, two = RedisStore(url), RedisStore(url)
    else:
        one, two = VolumeStore(tmp_path, "worker-1"), VolumeStore(tmp_path, "worker-2")
    yield one, two
    one.close()
    two.close()


def test_counts_seen_from_either_worker_are_the_endpoints(workers):
    one, two = workers
    for n in range(30):
        one.record(request(f"a{n}", "terse", "terse", quality=0.4, rules=n % 3 == 0, latency=n))
    for n in range(20):
        two.record(request(f"b{n}", "vivid", "vivid", quality=0.8, hit=n < 5))
    one.flush()
    two.flush()
    for store in (one, two):
        summary = store.summary()
        assert summary["strategies"]["terse"]["requests"] == 30 and summary["strategies"]["vivid"]["requests"] == 20
        assert summary["strategies"]["terse"]["rules_share"] == pytest.approx(10 / 30, abs=1e-3)
        assert summary["strategies"]["vivid"]["cache_hits"] == 5
        assert summary["strategies"]["terse"]["latency_ms"] == {"p50": 15.0, "p95": 28.0}
        assert summary["experiments"]["tone"]["arms"]["vivid"]["mean_quality_score"] == 0.8


def test_feedback_for_any_workers_answer_counts_and_a_second_one_replaces_the_first(workers):
    one, two = workers
    one.record(request("r1", "terse", "terse"))
    one.flush()
    assert two.feedback("r1", "kept", 0.9)  # answered by worker 1, judged through worker 2
    two.flush()
    assert one.feedback("r1", "discarded", 0.2)  # the caller changed its mind
    one.flush()
    stats = two.summary()["strategies"]["terse"]
    assert stats["outcomes"] == {"kept": 0, "edited": 0, "regenerated": 0, "discarded": 1}
    assert stats["external_score"] == {"mean": 0.2, "ci95": None, "n": 1}
    assert not one.feedback("nobody-answered-this", "kept", None)


def test_feedback_right_after_the_answer_is_taken_before_the_record_is_written(workers):
    one, _ = workers
    one.record(request("fresh"))
    assert one.feedback("fresh", "edited", None)


def judged_arms(store: OutcomeStore, terse: list[float], vivid: list[float]) -> dict:
    """The tone experiment after one answer per score of each arm, each judged with its score."""
    for arm, scores in (("terse", terse), ("vivid", vivid)):
        for n in range(len(scores)):
            store.record(request(f"{arm}{n}", arm, arm))
    store.flush()
    for arm, scores in (("terse", terse), ("vivid", vivid)):
        for n, score in enumerate(scores):
            store.feedback(f"{arm}{n}", "kept", score)
    store.flush()
    return store.summary()["experiments"]["tone"]


def test_the_leading_arm_is_named_once_the_95_percent_intervals_part(workers):
    one, _ = workers
    tone = judged_arms(one, [0.3 + 0.01 * (n % 3) for n in range(12)], [0.5 + 0.01 * (n % 3) for n in range(12)])
    assert tone["leader"] == "vivid"
    low, high = tone["arms"]["vivid"]["external_score"]["ci95"]
    assert low < 0.51 < high and tone["arms"]["terse"]["external_score"]["n"] == 12


def test_overlapping_intervals_name_no_leader(workers):
    one, _ = workers
    assert judged_arms(one, [0.2, 0.8] * 3, [0.3, 0.9] * 3)["leader"] is None


def test_a_reset_on_one_worker_retires_every_workers_records(workers):
    one, two = workers
    one.record(request("x1"))
    two.record(request("x2"))
    one.flush()
    two.flush()
    assert one.reset() == 2  # every worker's records, retired
    assert two.summary()["strategies"] == {} and two.find("x2") is None
    two.record(request("x3"))
    two.flush()
    assert one.summary()["strategies"]["terse"]["requests"] == 1


def test_named_strategies_and_arms_are_listed_before_their_first_request(workers):
    one, _ = workers
    summary = one.summary(["default", "terse"], {"tone": ["terse", "vivid"]})
    assert summary["strategies"]["default"]["requests"] == 0
    assert summary["experiments"]["tone"] == {"arms": {"terse": summary["experiments"]["tone"]["arms"]["terse"],
                                                       "vivid": summary["experiments"]["tone"]["arms"]["vivid"]},
                                              "leader": None}


def test_feedback_through_the_service_needs_a_known_request_and_keeps_no_prompt_text(tmp_path):
    settings = Settings(cache_dir=tmp_path / "cache", worker_id="w")
    service = EnhancementService(settings, None, PromptCache(settings.cache_dir, settings.worker_id))
    answer = asyncio.run(service.handle({"prompt": "a very particular purple walrus"}))
    done = asyncio.run(service.handle({"action": "feedback", "request_id": answer["request_id"],
                                       "outcome": "regenerated", "score": 1}))
    assert done == {"success": True, "request_id": answer["request_id"], "outcome": "regenerated", "score": 1.0}
    unknown = asyncio.run(service.handle({"action": "feedback", "request_id": "nope", "outcome": "kept"}))
    assert unknown["success"] is False and unknown["error"].startswith("request_id: unknown 'nope'")
    bad = asyncio.run(service.handle({"action": "feedback", "request_id": "x", "outcome": "liked", "score": 2}))
    assert "outcome: must be one of kept, edited, regenerated, discarded" in bad["error"]
    assert "score: must be from 0 to 1 (got 2)" in bad["error"]
    missing = asyncio.run(service.handle({"action": "feedback"}))
    assert missing["error"] == "request_id: is required for action 'feedback'; outcome: is required for action 'feedback'"
    service.outcomes.flush()
    info = asyncio.run(service.handle({"action": "info"}))["strategies"]
    assert info["strategies"]["default"]["requests"] == 1
    assert info["strategies"]["default"]["outcomes"]["regenerated"] == 1
    stored = (settings.outcomes_directory / "w.sqlite3").read_bytes()
    assert b"walrus" not in stored
    service.close()


def test_with_a_cache_url_the_records_live_on_its_server_and_hold_no_prompt_text(redis_server, tmp_path):
    settings = Settings.from_env({"CACHE_URL": redis_server.url, "CACHE_DIR": str(tmp_path / "cache")})
    for chosen, kind in ((open_store(settings), RedisStore),
                         (open_store(Settings.from_env({"CACHE_DIR": str(tmp_path / "volume" / "cache")})),
                          VolumeStore)):
        assert isinstance(chosen, kind)
        chosen.close()
    first, second = (EnhancementService(settings, None, PromptCache(tmp_path / f"c{n}", f"w{n}")) for n in (1, 2))
    answer = asyncio.run(first.handle({"prompt": "a very particular purple walrus"}))
    first.outcomes.flush()
    judged = asyncio.run(second.handle({"action": "feedback", "request_id": answer["request_id"],
                                         "outcome": "kept", "score": 0.75}))
    assert judged["success"] is True
    second.outcomes.flush()
    stats = asyncio.run(first.handle({"action": "info"}))["strategies"]["strategies"]["default"]
    assert stats["requests"] == 1 and stats["outcomes"]["kept"] == 1
    assert stats["external_score"] == {"mean": 0.75, "ci95": None, "n": 1}
    assert not (tmp_path / "outcomes").exists()
    client = redis.Redis.from_url(redis_server.url)
    stored = b"".join(repr(client.dump(key)).encode() + key for key in client.keys("*"))
    assert b"walrus" not in stored
    for service in (first, second):
        service.close()
