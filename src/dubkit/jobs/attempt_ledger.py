"""A job's deliveries to workers, in one Redis hash: how many, and how long each attempt ran.

The hash ``dubkit:attempts:<job_id>`` holds ``count`` (deliveries so far, counted atomically) and one field
per attempt number with its start, its last sign of life and, once it ended, its outcome. The worker that
runs an attempt writes only that attempt's field: at its start, every few seconds while it runs
(`AttemptLedger.touch`) and when it ends. An attempt whose worker died has no outcome; it counts up to its
last sign of life. The job's last attempt reads the whole hash to report every attempt's time, and the sum
is the job's processing time. The hash expires after `dubkit.jobs.redis_keys.JOB_KEY_TTL_S` unless it is
written again, and is deleted once the job has ended (`dubkit.jobs.worker_middleware.JobKeysCleanup`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs
import redis

from dubkit.jobs.redis_keys import JOB_KEY_TTL_S, attempts_key

__all__ = ["AttemptLedger", "AttemptTime", "attempt_times"]

INTERRUPTED = "interrupted"
"""The outcome of an attempt whose worker stopped without saying why (killed, or its job taken over)."""


@attrs.frozen
class AttemptTime:
    """One attempt at a job.

    Attributes:
        attempt: Its number (1 for the first delivery).
        seconds: How long it ran (to its last sign of life when its worker died).
        outcome: ``completed``, ``failed``, ``cancelled``, ``retried`` (it failed and the job went back to
            the queue) or ``interrupted`` (its worker died or lost the job).
    """

    attempt: int
    seconds: float
    outcome: str


def attempt_times(raw: object) -> tuple[AttemptTime, ...]:
    """Attempt times from their JSON form (a list of objects), or as they are."""
    if not isinstance(raw, Sequence):
        return ()
    out = []
    for item in raw:
        if isinstance(item, AttemptTime):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(AttemptTime(int(item["attempt"]), float(item["seconds"]), str(item["outcome"])))
    return tuple(out)


class AttemptLedger:
    """The attempt hash of one job.

    Args:
        client: The Redis connection (pool).
        job_id: The job.
        ttl_s: How long the hash lives after its last write.
        clock: The wall clock (seconds since the epoch); attempts of one job may run on several machines.
    """

    def __init__(
        self,
        client: redis.Redis,
        job_id: str,
        *,
        ttl_s: int = JOB_KEY_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.job_id = job_id
        self.key = attempts_key(job_id)
        self.ttl_s = ttl_s
        self._clock = clock
        self._started: dict[int, float] = {}

    def begin(self, before: int) -> int:
        """Count one more delivery and record its start.

        Args:
            before: Attempts the job had when its message was sent (the store's count).

        Returns:
            This attempt's number.
        """
        count = int(self.client.hincrby(self.key, "count", 1))
        number = before + count
        now = self._clock()
        self._started[number] = now
        self._write(number, {"started": now, "seen": now})
        return number

    def touch(self, number: int) -> None:
        """Record that attempt ``number`` is still running."""
        started = self._started.get(number)
        if started is not None:
            self._write(number, {"started": started, "seen": self._clock()})

    def end(self, number: int, outcome: str) -> None:
        """Record how attempt ``number`` ended (for an attempt that ends and the job goes on)."""
        started = self._started.pop(number, None)
        if started is not None:
            self._write(number, {"started": started, "seen": self._clock(), "outcome": outcome})

    def history(self, number: int, outcome: str) -> tuple[AttemptTime, ...]:
        """Every attempt up to ``number`` (the one ending now, with ``outcome``), oldest first."""
        now = self._clock()
        raw: dict[Any, Any] = self.client.hgetall(self.key)
        times: list[AttemptTime] = []
        for field, value in raw.items():
            name = field.decode() if isinstance(field, bytes) else str(field)
            if not name.isdigit() or int(name) > number:
                continue
            try:
                entry = json.loads(value)
                started, seen = float(entry["started"]), float(entry["seen"])
            except (ValueError, KeyError, TypeError):
                continue
            if int(name) == number:
                times.append(AttemptTime(number, round(max(0.0, now - started), 3), outcome))
            else:
                ended = str(entry.get("outcome") or INTERRUPTED)
                times.append(AttemptTime(int(name), round(max(0.0, seen - started), 3), ended))
        if not any(t.attempt == number for t in times) and number in self._started:
            times.append(AttemptTime(number, round(now - self._started[number], 3), outcome))
        return tuple(sorted(times, key=lambda t: t.attempt))

    def _write(self, number: int, entry: dict[str, object]) -> None:
        pipe = self.client.pipeline(transaction=False)
        pipe.hset(self.key, str(number), json.dumps(entry))
        pipe.expire(self.key, self.ttl_s)
        pipe.execute()
