"""What each strategy's answers did: requests and outcome feedback, endpoint-wide.

Every enhance response is recorded (its request id, strategy, experiment and arm, quality score,
whether the rules wrote it, cache hit, latency; never the prompt), and `feedback` adds the
caller's outcome (kept, edited, regenerated, discarded) and an optional external score in 0..1.
The records are shared the way the cache is (DESIGN.md, "Cache"): on the volume, each worker
writing only its own SQLite file (volume.py), or on the Redis server of `CACHE_URL`
(redis_store.py). Either way a job pays for a queue put: a background thread writes the records a
few at a time (records.py). A reset (`cache_clear` with `scope: strategies`) retires every
worker's records.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .records import OUTCOMES, OutcomeStore, Request
from .volume import VolumeStore

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["OUTCOMES", "OutcomeStore", "Request", "VolumeStore", "open_store"]


def open_store(settings: "Settings") -> OutcomeStore:
    """Where the cache lives, the records live: `CACHE_URL`'s server, else `OUTCOMES_DIR`."""
    if settings.cache_url:
        from .redis_store import RedisStore

        return RedisStore(settings.cache_url)
    return VolumeStore(settings.outcomes_directory, settings.worker_id)
