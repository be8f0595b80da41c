"""The records on the cache's Redis or Valkey server (`CACHE_URL`), for endpoints without a volume.

The figures are kept as sums, so `info` reads a few keys however many requests there were:

- `<prefix>:stats`, one hash: per strategy and per experiment arm (a scope), the requests, the
  sum of quality scores, rules answers, cache hits, the outcomes by kind, and the count, sum and
  sum of squares of the external scores (what the 95% interval needs);
- `<prefix>:latency:<scope>`, a list of the latest `LATENCY_SAMPLES` latencies, for p50 and p95;
- `<prefix>:request:<id>` and `<prefix>:feedback:<id>`, what feedback needs to find its request
  and replace an earlier feedback; they expire after `FEEDBACK_WINDOW_SECONDS`.

A feedback replaces the earlier one in one Lua script, so two workers judging one request at
once never count it twice. An error loses the records of that batch (logged), never a job.
"""

from __future__ import annotations

import json
from typing import Any, Iterable

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ..cache.redis_store import PREFIX, SOCKET_TIMEOUT_SECONDS, redacted
from .records import OUTCOMES, Feedback, OutcomeStore, Request, Stats, log, named, summary_of

LATENCY_SAMPLES = 10_000
FEEDBACK_WINDOW_SECONDS = 30 * 24 * 3600
_SEP = "\x1f"  # between a scope and its figure in a field of the stats hash; never in a name

# KEYS: stats hash, feedback key. ARGV: outcome, score or "", window, then the scopes.
_JUDGE = """
local old = redis.call('HMGET', KEYS[2], 'outcome', 'score')
for i = 4, #ARGV do
  local scope = ARGV[i]
  if old[1] then
    redis.call('HINCRBY', KEYS[1], scope .. '\\31o\\31' .. old[1], -1)
    if old[2] and old[2] ~= '' then
      local s = tonumber(old[2])
      redis.call('HINCRBY', KEYS[1], scope .. '\\31scored', -1)
      redis.call('HINCRBYFLOAT', KEYS[1], scope .. '\\31score_sum', -s)
      redis.call('HINCRBYFLOAT', KEYS[1], scope .. '\\31score_squares', -s * s)
    end
  end
  redis.call('HINCRBY', KEYS[1], scope .. '\\31o\\31' .. ARGV[1], 1)
  if ARGV[2] ~= '' then
    local s = tonumber(ARGV[2])
    redis.call('HINCRBY', KEYS[1], scope .. '\\31scored', 1)
    redis.call('HINCRBYFLOAT', KEYS[1], scope .. '\\31score_sum', s)
    redis.call('HINCRBYFLOAT', KEYS[1], scope .. '\\31score_squares', s * s)
  end
end
if not old[1] then redis.call('HINCRBY', KEYS[1], 'feedbacks', 1) end
redis.call('HSET', KEYS[2], 'outcome', ARGV[1], 'score', ARGV[2])
redis.call('EXPIRE', KEYS[2], ARGV[3])
"""


def _scopes(request: Request) -> list[str]:
    scopes = [json.dumps(["strategy", request.strategy])]
    if request.experiment:
        scopes.append(json.dumps(["arm", request.experiment, request.arm]))
    return scopes


class RedisStore(OutcomeStore):
    def __init__(self, url: str, prefix: str = PREFIX) -> None:
        self.url = redacted(url)
        self._prefix = f"{prefix}:outcomes"
        self._stats = f"{self._prefix}:stats"
        self._client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 1), decode_responses=True,
        )
        self._judge = self._client.register_script(_JUDGE)
        super().__init__()

    def _key(self, kind: str, name: str) -> str:
        return f"{self._prefix}:{kind}:{name}"

    def _write(self, batch: list[Request | Feedback]) -> None:
        pipe = self._client.pipeline(transaction=False)
        for item in batch:
            if isinstance(item, Request):
                key = self._key("request", item.id)
                pipe.hset(key, mapping={"strategy": item.strategy, "experiment": item.experiment or "",
                                        "arm": item.arm or "", "quality": item.quality, "rules": int(item.rules),
                                        "cache_hit": int(item.cache_hit), "latency_ms": item.latency_ms,
                                        "at": item.at})
                pipe.expire(key, FEEDBACK_WINDOW_SECONDS)
                pipe.hincrby(self._stats, "requests", 1)
                for scope in _scopes(item):
                    pipe.hincrby(self._stats, f"{scope}{_SEP}requests", 1)
                    pipe.hincrbyfloat(self._stats, f"{scope}{_SEP}quality", item.quality)
                    pipe.hincrby(self._stats, f"{scope}{_SEP}rules", int(item.rules))
                    pipe.hincrby(self._stats, f"{scope}{_SEP}hits", int(item.cache_hit))
                    pipe.rpush(self._key("latency", scope), item.latency_ms)
                    pipe.ltrim(self._key("latency", scope), -LATENCY_SAMPLES, -1)
            else:
                self._judge(keys=[self._stats, self._key("feedback", item.request.id)],
                            args=[item.outcome, "" if item.score is None else repr(item.score),
                                  FEEDBACK_WINDOW_SECONDS, *_scopes(item.request)], client=pipe)
        pipe.execute()

    def find(self, request_id: str) -> Request | None:
        try:
            row = self._client.hgetall(self._key("request", request_id))
        except redis.RedisError as exc:
            log.warning("outcome server %s failed (%s): request %s not found", self.url, exc, request_id)
            return None
        if not row:
            return None
        return Request(request_id, row["strategy"], row["experiment"] or None, row["arm"] or None,
                       float(row["quality"]), row["rules"] == "1", row["cache_hit"] == "1",
                       float(row["latency_ms"]), float(row["at"]))

    def summary(self, strategies: Iterable[str] = (), experiments: dict[str, list[str]] | None = None
                ) -> dict[str, Any]:
        by_strategy, by_arm = named(strategies, experiments)
        try:
            fields = self._client.hgetall(self._stats)
        except redis.RedisError as exc:
            log.warning("outcome server %s failed (%s): no figures", self.url, exc)
            return summary_of(by_strategy, by_arm)
        figures: dict[str, dict[str, str]] = {}
        for field, value in fields.items():
            if _SEP in field:
                scope, figure = field.split(_SEP, 1)
                figures.setdefault(scope, {})[figure] = value
        pipe = self._client.pipeline(transaction=False)
        for scope in figures:
            pipe.lrange(self._key("latency", scope), 0, -1)
        latencies = pipe.execute()
        for (scope, values), samples in zip(figures.items(), latencies):
            kind, *names = json.loads(scope)
            stats = (by_strategy.setdefault(names[0], Stats()) if kind == "strategy"
                     else by_arm.setdefault(names[0], {}).setdefault(names[1], Stats()))
            stats.add(int(values.get("requests", 0)), float(values.get("quality", 0)), int(values.get("rules", 0)),
                      int(values.get("hits", 0)))
            stats.latencies += [float(s) for s in samples]
            for outcome in OUTCOMES:
                stats.outcomes[outcome] += int(values.get(f"o{_SEP}{outcome}", 0))
            stats.add_scores(int(values.get("scored", 0)), float(values.get("score_sum", 0)),
                             float(values.get("score_squares", 0)))
        return summary_of(by_strategy, by_arm)

    def reset(self) -> int:
        self.flush()
        stats = self._client.hgetall(self._stats)
        retired = int(stats.get("requests", 0)) + int(stats.get("feedbacks", 0))
        scopes = {field.split(_SEP, 1)[0] for field in stats if _SEP in field}
        self._client.delete(self._stats, *(self._key("latency", scope) for scope in scopes))
        for kind in ("request", "feedback"):
            keys = list(self._client.scan_iter(match=self._key(kind, "*"), count=1000))
            for start in range(0, len(keys), 1000):
                self._client.unlink(*keys[start:start + 1000])
        return retired

    def _close(self) -> None:
        self._client.close()
