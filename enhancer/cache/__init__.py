"""The enhancement cache: diskcache shards on a volume (default) or a Redis / Valkey server."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import CacheBase
from .disk import GENERATION_FILE, LEASE_FILE, PromptCache
from .keys import SCHEMA_VERSION, cache_key, normalize_prompt

if TYPE_CHECKING:
    from ..config import Settings

__all__ = [
    "CacheBase", "GENERATION_FILE", "LEASE_FILE", "PromptCache", "SCHEMA_VERSION", "cache_key",
    "normalize_prompt", "open_cache",
]


def open_cache(settings: "Settings") -> CacheBase:
    """The store the settings name: `CACHE_URL` (redis:// or rediss://) wins over `CACHE_DIR`."""
    if settings.cache_url:
        from .redis_store import RedisCache

        return RedisCache(settings.cache_url, settings.cache_size_limit_mb, settings.cache_ttl_seconds)
    return PromptCache(
        settings.cache_dir, settings.worker_id, settings.cache_size_limit_mb, settings.cache_ttl_seconds,
        lease_seconds=settings.cache_lease_seconds,
    )
