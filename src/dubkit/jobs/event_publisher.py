"""A worker's side of the event stream: one attempt's `JobEvent`s appended to Redis (``XADD``)."""

from __future__ import annotations

import redis

from dubkit.jobs.attempt_events import AttemptEvents
from dubkit.jobs.event_codec import JobResult, encode_event
from dubkit.jobs.events import JobEvent, JobEventState
from dubkit.jobs.redis_keys import EVENTS_STREAM

__all__ = ["EventPublisher"]

_STREAM_MAXLEN = 100_000


class EventPublisher(AttemptEvents):
    """Appends one attempt's events to the stream (a worker's side); fractions never decrease.

    Args:
        client: The Redis connection (pool).
        job_id: The job.
        attempt: The attempt number.
    """

    def __init__(self, client: redis.Redis, job_id: str, attempt: int) -> None:
        super().__init__(job_id, attempt, self._append)
        self.client = client

    def _append(self, event: JobEvent, result: JobResult | None = None) -> None:
        self.client.xadd(
            EVENTS_STREAM, {"event": encode_event(event, result)}, maxlen=_STREAM_MAXLEN, approximate=True
        )

    def complete(self, media_key: str, result: JobResult) -> None:
        """Publish the ``completed`` event with the job's result."""
        with self._lock:
            event = self._make(None, JobEventState.COMPLETED, media_key, 1.0, None)
            self._append(event, result)
