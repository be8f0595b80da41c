"""The shared store for endpoints without a network volume: a Redis or Valkey server (`CACHE_URL`).

Same key, TTL, size bound, generation-based clear and "an error is a miss" rule as the shards:

- an entry is `<prefix>:entry:<key>` (SET with EX when `CACHE_TTL_SECONDS` is set);
- the size bound is kept by the worker, not by the server's maxmemory: a sorted set records each
  entry's store time and a hash its bytes (key + value); a store that takes the total past
  `CACHE_SIZE_LIMIT_MB` evicts the least recently stored entries, in the same Lua script, so the
  bound holds with many workers writing at once; index records of entries past their TTL are
  dropped by later stores;
- `clear` bumps `<prefix>:generation` (part of every key) and deletes every entry, atomically;
- an error is a miss, and after one the worker leaves the server alone for `RETRY_AFTER_SECONDS`, so
  a dead server costs a job nothing but the miss.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .base import CacheBase

log = logging.getLogger("enhancer.cache")

PREFIX = "prompt-enhancer"
RETRY_AFTER_SECONDS = 2.0
SOCKET_TIMEOUT_SECONDS = 1.0

_STORE = """
local entry_prefix, key, value = ARGV[1], ARGV[2], ARGV[3]
local ttl, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local function forget(k)
  local size = tonumber(redis.call('HGET', KEYS[2], k) or '0')
  redis.call('HDEL', KEYS[2], k)
  redis.call('ZREM', KEYS[1], k)
  return redis.call('DECRBY', KEYS[3], size)
end
if ttl > 0 then
  for _, k in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - ttl, 'LIMIT', 0, 100)) do
    forget(k)
  end
  redis.call('SET', entry_prefix .. key, value, 'EX', ttl)
else
  redis.call('SET', entry_prefix .. key, value)
end
local size = string.len(key) + string.len(value)
local old = tonumber(redis.call('HGET', KEYS[2], key) or '0')
redis.call('ZADD', KEYS[1], now, key)
redis.call('HSET', KEYS[2], key, size)
local total = redis.call('INCRBY', KEYS[3], size - old)
while total > limit do
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0)
  if #oldest == 0 then break end
  redis.call('DEL', entry_prefix .. oldest[1])
  total = forget(oldest[1])
end
return total
"""

_CLEAR = """
local entry_prefix = ARGV[1]
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for i = 1, #members, 500 do
  local chunk = {}
  for j = i, math.min(i + 499, #members) do chunk[#chunk + 1] = entry_prefix .. members[j] end
  redis.call('DEL', unpack(chunk))
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {#members, redis.call('INCR', KEYS[4])}
"""


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc}"))


class RedisCache(CacheBase):
    store = "redis"

    def __init__(
        self, url: str, size_limit_mb: int = 1024, ttl_seconds: int | None = None, prefix: str = PREFIX
    ) -> None:
        super().__init__()
        self.url = redacted(url)
        self.ttl_seconds = ttl_seconds
        self.errors = 0
        self._size_limit = size_limit_mb * 1024 * 1024
        self._entry = f"{prefix}:entry:"
        self._index, self._sizes, self._bytes = f"{prefix}:index", f"{prefix}:sizes", f"{prefix}:bytes"
        self._generation_key = f"{prefix}:generation"
        self._generation = 0
        self._down_until = 0.0
        self._answered = False  # whether the server answered the last call
        # One retry without backoff: a pooled connection broken by a server restart is replaced at once.
        self._client = redis.Redis.from_url(
            url, socket_timeout=SOCKET_TIMEOUT_SECONDS, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 1), decode_responses=True,
        )
        self._store = self._client.register_script(_STORE)
        self._clear = self._client.register_script(_CLEAR)
        self.generation()
        if not self._answered:
            self.warnings.append(f"cache server {self.url} unreachable at start: misses until it answers")

    @property
    def persistent(self) -> bool:
        return True

    def _call(self, method, *args, **kwargs):
        """None while the server is known to be down; an error marks it down for a while."""
        if time.monotonic() < self._down_until:
            return None
        try:
            result = method(*args, **kwargs)
        except redis.RedisError as exc:
            self.errors += 1
            self._answered = False
            self._down_until = time.monotonic() + RETRY_AFTER_SECONDS
            log.warning("cache server %s failed (%s): misses for %.0fs", self.url, exc, RETRY_AFTER_SECONDS)
            return None
        self._down_until, self._answered = 0.0, True
        return result

    def generation(self) -> int:
        raw = self._call(self._client.get, self._generation_key)
        if raw is not None:
            try:
                self._generation = int(raw)
            except ValueError:
                pass
        return self._generation

    def _get_raw(self, key: str) -> str | None:
        return self._call(self._client.get, self._entry + key)

    def _set_raw(self, key: str, raw: str) -> None:
        self._call(
            self._store, keys=[self._index, self._sizes, self._bytes],
            args=[self._entry, key, raw, self.ttl_seconds or 0, self._size_limit],
        )

    def clear(self) -> int:
        """Delete every entry of every worker and bump the generation; count the deleted."""
        result = self._call(
            self._clear, keys=[self._index, self._sizes, self._bytes, self._generation_key], args=[self._entry]
        )
        if result is None:
            return 0
        removed, self._generation = int(result[0]), int(result[1])
        return removed

    def __len__(self) -> int:
        return int(self._call(self._client.zcard, self._index) or 0)

    def stats(self) -> dict[str, Any]:
        size = self._call(self._client.get, self._bytes)
        entries = len(self)
        return {
            "store": self.store,
            "url": self.url,
            "persistent": True,
            "available": self._answered,
            "entries": entries,
            "keys": entries,
            "bytes": int(size or 0),
            "hits": self.hits,
            "misses": self.misses,
            "errors": self.errors,
            "generation": self.generation(),
            "lookup_ms": self.lookup_ms(),
            "ttl_seconds": self.ttl_seconds,
            "size_limit_bytes": self._size_limit,
            "warnings": list(self.warnings),
        }

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:
            pass
