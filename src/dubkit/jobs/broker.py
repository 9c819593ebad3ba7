"""The Dramatiq Redis broker of both sides of the distributed runner, and its actor's and queue's names.

Dramatiq's Redis broker keeps, per consumer (one per process, its ``broker_id``), the set of messages it
fetched and has not acknowledged (``dramatiq:__acks__.<broker_id>.<queue>``), and a heartbeat per consumer
(``dramatiq:__heartbeats__``, refreshed by every broker command the consumer sends). Its *maintenance*, a
step of its Lua dispatch script, puts the unacknowledged messages of every consumer silent for longer than
``heartbeat_timeout`` back at the end of the queue. Dramatiq runs it on a random ``maintenance_chance`` in a
million commands; `DubkitRedisBroker.maintain` runs it on demand, which is what the workers' timer
(`dubkit.jobs.queue_maintenance.QueueMaintenance`) does, after `DubkitRedisBroker.requeue_dead_first`, the
same step with the messages put at the head of the queue.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from typing import Any

from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis, dq_name

__all__ = [
    "ACTOR_NAME",
    "QUEUE_NAME",
    "DubkitRedisBroker",
    "acks_key",
    "consumer_id",
    "make_broker",
]

ACTOR_NAME = "dub_job"
QUEUE_NAME = "dubkit"
NAMESPACE = "dramatiq"
"""Dramatiq's default key prefix."""


def consumer_id() -> str:
    """A consumer id operators can read: ``<host>-<pid>-<8 random hex digits>``."""
    host = socket.gethostname().replace("*", "_").replace("?", "_").replace("[", "_")
    return f"{host}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def acks_key(broker_id: str, queue_name: str) -> str:
    """The Redis set of the messages consumer ``broker_id`` fetched from ``queue_name`` and holds."""
    return f"{NAMESPACE}:__acks__.{broker_id}.{queue_name}"


_REQUEUE_DEAD_FIRST = """
local namespace, queue, now, timeout = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local queue_key = namespace .. ":" .. queue
local messages = queue_key .. ".msgs"
local dead = redis.call("zrangebyscore", namespace .. ":__heartbeats__", 0, now - timeout)
local moved = 0
for _, worker in ipairs(dead) do
    local acks = namespace .. ":__acks__." .. worker .. "." .. queue
    for _, message_id in ipairs(redis.call("smembers", acks)) do
        if redis.call("hexists", messages, message_id) == 1 then
            redis.call("lpush", queue_key, message_id)
            moved = moved + 1
        end
    end
    redis.call("del", acks)
end
return moved
"""
"""Dramatiq's requeue of dead consumers' messages (its dispatch script's maintenance step), to the head of
the queue instead of its tail: a job that was running resumes before the jobs that waited behind it."""


class DubkitRedisBroker(RedisBroker):
    """Dramatiq's Redis broker, with queue maintenance on demand (`maintain`) and a readable consumer id."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)  # type: ignore[no-untyped-call]
        self.broker_id = consumer_id()
        self._forced = threading.local()
        self._requeue_dead_first = self.client.register_script(_REQUEUE_DEAD_FIRST)

    def requeue_dead_first(self, queue_name: str) -> int:
        """Put the messages held by dead consumers (silent for ``heartbeat_timeout``) at the queue's head.

        The same step as Dramatiq's maintenance, which puts them at the tail: a job that was running when its
        worker died goes to the next free worker rather than behind every job that waited meanwhile. The
        dead consumers leave the heartbeat set at the next `maintain`.

        Returns:
            How many messages went back.

        Raises:
            redis.RedisError: Redis cannot be reached.
        """
        moved = self._requeue_dead_first(
            args=[self.namespace, queue_name, current_millis(), self.heartbeat_timeout]
        )
        return int(moved)

    def _should_do_maintenance(self, command: str) -> int:
        if getattr(self._forced, "on", False):
            return 1
        return int(super()._should_do_maintenance(command))

    def maintain(self, queue_name: str) -> None:
        """Run Dramatiq's queue maintenance on ``queue_name`` now (and send this consumer's heartbeat).

        Every message held by a consumer whose heartbeat is older than ``heartbeat_timeout`` goes back to
        the queue; dead-lettered messages older than ``dead_message_ttl`` are dropped. The command that
        carries it is ``qsize``, which changes nothing else.

        Raises:
            redis.RedisError: Redis cannot be reached.
        """
        self._forced.on = True
        try:
            self.do_qsize(queue_name)
        finally:
            self._forced.on = False

    def maintain_all(self, queue_name: str) -> int:
        """Requeue dead consumers' jobs at the head, then run Dramatiq's maintenance on both queues.

        `requeue_dead_first` on the job queue, then `maintain` on it and on its delay queue (where messages
        wait for a retry; their order does not matter there).

        Returns:
            How many messages of the job queue went back.
        """
        moved = self.requeue_dead_first(queue_name)
        self.maintain(queue_name)
        self.maintain(dq_name(queue_name))
        return moved


def make_broker(
    redis_url: str,
    *,
    heartbeat_timeout_ms: int = 60_000,
    dead_message_ttl_ms: int = 7 * 24 * 3600 * 1000,
    maintenance_chance: int = 1000,
) -> DubkitRedisBroker:
    """A Dramatiq Redis broker (nothing is created at import time; call this on each side).

    Args:
        redis_url: The Redis server, e.g. ``redis://127.0.0.1:6379/0``.
        heartbeat_timeout_ms: A consumer that has not talked to Redis for this long is considered dead, and
            its unacknowledged messages are put back in the queue by the next queue maintenance.
        dead_message_ttl_ms: How long dead-lettered messages are kept in Redis.
        maintenance_chance: Out of a million broker commands, how many also run queue maintenance (workers
            run it on a timer as well, see `DubkitRedisBroker.maintain`).
    """
    return DubkitRedisBroker(
        url=redis_url,
        heartbeat_timeout=heartbeat_timeout_ms,
        dead_message_ttl=dead_message_ttl_ms,
        maintenance_chance=maintenance_chance,
    )
