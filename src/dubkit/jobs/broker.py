"""The Dramatiq Redis broker of both sides of the distributed runner, and its actor's and queue's names."""

from __future__ import annotations

from typing import Any

from dramatiq.brokers.redis import RedisBroker

__all__ = ["ACTOR_NAME", "QUEUE_NAME", "make_broker"]

ACTOR_NAME = "dub_job"
QUEUE_NAME = "dubkit"


def make_broker(
    redis_url: str,
    *,
    heartbeat_timeout_ms: int = 60_000,
    dead_message_ttl_ms: int = 7 * 24 * 3600 * 1000,
    maintenance_chance: int = 1000,
) -> Any:
    """A Dramatiq Redis broker (nothing is created at import time; call this on each side).

    Args:
        redis_url: The Redis server, e.g. ``redis://127.0.0.1:6379/0``.
        heartbeat_timeout_ms: A worker that has not talked to Redis for this long is considered dead, and its
            unacknowledged messages are put back in the queue by the next queue maintenance.
        dead_message_ttl_ms: How long dead-lettered messages are kept in Redis.
        maintenance_chance: Out of a million broker commands, how many run queue maintenance (tests use
            1,000,000 for a redelivery as soon as the heartbeat timeout has passed).
    """
    return RedisBroker(  # type: ignore[no-untyped-call]
        url=redis_url,
        heartbeat_timeout=heartbeat_timeout_ms,
        dead_message_ttl=dead_message_ttl_ms,
        maintenance_chance=maintenance_chance,
    )
