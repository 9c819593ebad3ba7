"""Job events through Redis, for the distributed runner: workers publish, the server applies them to SQLite.

Workers append each `JobEvent` as JSON to the Redis Stream ``dubkit:jobs:events`` (``XADD``: ordered and
replayable) with an `EventPublisher`. The server's `EventApplier` reads the stream in a consumer group and
applies the events to its `JobStore` (the only writer of SQLite), then forwards them to its subscribers.

Applying is idempotent, so an event read twice (the server died between applying it and acknowledging it)
changes the store once: a ``claimed`` event takes the job's lease only for a newer attempt than the store
has seen, and every later write is guarded by that attempt's lease token, so a duplicate ``completed`` (or an
event from an older attempt) is refused by the store and dropped. A ``completed`` event for a job whose
cancel was requested before it is applied does not complete it: the outputs are removed and the job is
cancelled (a late cancel wins).

Cancel requests go the other way: the server sets ``dubkit:cancel:<job_id>``, which a worker polls.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs
import redis

from dubkit.errors import CancelledError, JobError
from dubkit.jobs.attempt import remove_outputs
from dubkit.jobs.event_codec import JobResult, decode_event, encode_event
from dubkit.jobs.event_publisher import EventPublisher
from dubkit.jobs.events import JobEvent, JobEventHub, JobEventState, JobSubscriber
from dubkit.jobs.redis_keys import CANCEL_PREFIX, EVENTS_STREAM, attempts_key, cancel_key, lease_token
from dubkit.jobs.store import JobStore
from dubkit.jobs.ticket import JobTicket
from dubkit.storage.fsspec_storage import FsspecStorage
from dubkit.storage.protocol import Storage

__all__ = [
    "CANCEL_PREFIX",
    "EVENTS_STREAM",
    "EventApplier",
    "EventPublisher",
    "JobResult",
    "attempts_key",
    "cancel_key",
    "decode_event",
    "encode_event",
    "lease_token",
]

logger = logging.getLogger(__name__)

_STAGE_STATES = frozenset(
    {JobEventState.STARTED, JobEventState.RUNNING, JobEventState.SKIPPED, JobEventState.FINISHED}
)


def _stream_id(value: str | bytes) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else value
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class EventApplier:
    """Reads worker events from Redis and applies them to the server's `JobStore` (server side).

    Call `poll` (or `run`) from the thread that owns ``store``. Each stream entry is applied once: entries are
    read in a consumer group and acknowledged after they were applied; entries at or before the last applied
    id are skipped, and the store's lease guard drops a duplicate read after a restart.

    Args:
        store: The job store (only this thread uses it).
        redis_url: The Redis server, e.g. ``redis://127.0.0.1:6379/0``.
        group: The consumer group of the servers on the stream.
        consumer: This server's name in the group.
        lease_seconds: The lease the store records for a running attempt (the distributed runner does not
            expire leases itself; Dramatiq redelivers jobs of dead workers). Never run an `InProcessRunner`
            on the same store.
        progress_interval: Least time between two progress writes of one job (stage changes always write).
        storage: The job storage, to remove the outputs of a job whose cancel wins over its completion
            (default: opened from the ``storage_url`` the worker reports, with ``storage_factory``).
        storage_factory: Opens a storage URL (default: `FsspecStorage` with default options).
    """

    def __init__(
        self,
        store: JobStore,
        redis_url: str,
        *,
        group: str = "dubkit-server",
        consumer: str = "server",
        lease_seconds: float = 7 * 24 * 3600.0,
        progress_interval: float = 0.5,
        storage: Storage | None = None,
        storage_factory: Callable[[str], Storage] = FsspecStorage,
    ) -> None:
        self.store = store
        self.client = redis.Redis.from_url(redis_url)
        self.group = group
        self.consumer = consumer
        self.lease_seconds = lease_seconds
        self.progress_interval = progress_interval
        self.storage = storage
        self._storage_factory = storage_factory
        self._events = JobEventHub()
        self._last_id = (0, 0)
        self._last_write: dict[str, tuple[float, str | None]] = {}
        self._pending_done = False
        try:
            self.client.xgroup_create(EVENTS_STREAM, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def close(self) -> None:
        """Close the Redis connection."""
        self.client.close()

    def subscribe(self, callback: JobSubscriber) -> Callable[[], None]:
        """Send every applied `JobEvent` to ``callback`` (on the applying thread, in stream order).

        Returns:
            A function that unsubscribes ``callback``.
        """
        return self._events.subscribe(callback)

    def poll(self, block_ms: int = 1000, count: int = 100) -> int:
        """Read and apply the next batch of events (waiting up to ``block_ms`` for one).

        Returns:
            How many events were applied.
        """
        start = "0" if not self._pending_done else ">"
        reply: Any = self.client.xreadgroup(
            self.group,
            self.consumer,
            {EVENTS_STREAM: start},
            count=count,
            block=None if start == "0" else block_ms,
        )
        entries: list[tuple[Any, dict[Any, Any]]] = reply[0][1] if reply else []
        if start == "0" and not entries:
            self._pending_done = True  # the entries left unacknowledged by an earlier run are all applied
        applied = 0
        for entry_id, fields in entries:
            key = _stream_id(entry_id)
            if key > self._last_id:
                self._apply_entry(fields)
                self._last_id = key
                applied += 1
            self.client.xack(EVENTS_STREAM, self.group, entry_id)
        return applied

    def run(self, stop: threading.Event, block_ms: int = 500) -> None:
        """Apply events until ``stop`` is set (errors are logged and the loop goes on)."""
        while not stop.is_set():
            try:
                self.poll(block_ms)
            except (redis.RedisError, JobError):
                logger.exception("applying job events failed; retrying")
                stop.wait(1.0)

    def _apply_entry(self, fields: dict[Any, Any]) -> None:
        raw = fields.get(b"event", fields.get("event"))
        try:
            event, result = decode_event(raw if raw is not None else "")
        except JobError:
            logger.warning("dropping a malformed job event: %r", raw)
            return
        try:
            event = self._apply(event, result)
        except JobError as exc:
            logger.info("job %s: event %s not applied: %s", event.job_id, event.state.value, exc)
        self._events.publish(event)

    def _apply(self, event: JobEvent, result: JobResult | None) -> JobEvent:
        """Apply one event; returns the event to forward (a cancelled one when a cancel beat completion)."""
        store, job_id = self.store, event.job_id
        token = lease_token(job_id, event.attempt)
        state = event.state
        if state is JobEventState.CLAIMED:
            self._take(event, token)
        elif state in _STAGE_STATES and event.stage is not None:
            now = time.monotonic()
            last_time, last_stage = self._last_write.get(job_id, (0.0, None))
            throttled = now - last_time < self.progress_interval
            if state is JobEventState.RUNNING and last_stage == event.stage and throttled:
                return event
            self._last_write[job_id] = (now, event.stage)
            store.update_progress(job_id, token, event.stage, min(1.0, max(0.0, event.fraction)))
        elif state is JobEventState.COMPLETED:
            self._last_write.pop(job_id, None)
            size = result.output_size if result else 0
            seconds = result.processing_time if result else 0.0
            history = [attrs.asdict(a) for a in result.attempts] if result and result.attempts else None
            self._forget_cancel(job_id)
            try:
                store.complete(
                    job_id,
                    token,
                    output_path=event.message,
                    output_size=size,
                    processing_time=seconds,
                    attempt_history=history,
                )
            except CancelledError:
                return self._cancel_completed(event, token, result)
        elif state is JobEventState.FAILED:
            self._last_write.pop(job_id, None)
            self._forget_cancel(job_id)
            store.fail(job_id, token, event.message, retry=False)
        elif state is JobEventState.RETRYING:
            store.fail(job_id, token, event.message, retry=True)
        elif state is JobEventState.CANCELLED:
            self._last_write.pop(job_id, None)
            self._forget_cancel(job_id)
            store.acknowledge_cancel(job_id, token)
        return event

    def _forget_cancel(self, job_id: str) -> None:
        """A job's worker ended it: its cancel request (if any) has served; delete it from Redis."""
        try:
            self.client.delete(cancel_key(job_id))
        except redis.RedisError:
            logger.warning("job %s: could not delete its cancel key (it expires)", job_id, exc_info=True)

    def _cancel_completed(self, event: JobEvent, token: str, result: JobResult | None) -> JobEvent:
        """A cancel was requested before the completion was applied: remove the outputs, cancel the job."""
        record = self.store.get(event.job_id)
        storage = self.storage
        if storage is None and result is not None and result.storage_url:
            storage = self._storage_factory(result.storage_url)
        if storage is None:
            logger.warning(
                "job %s cancelled after it finished; its outputs could not be removed", event.job_id
            )
        else:
            remove_outputs(storage, record.user_id, event.job_id, JobTicket.from_record(record).version)
        self.store.acknowledge_cancel(event.job_id, token)
        logger.info("job %s: the cancel won over its completion; outputs removed", event.job_id)
        return attrs.evolve(event, state=JobEventState.CANCELLED, message="cancelled")

    def _take(self, event: JobEvent, token: str) -> None:
        taken = self.store.take_attempt(
            event.job_id, event.attempt, token, f"dramatiq attempt {event.attempt}", self.lease_seconds
        )
        if not taken:
            logger.info(
                "job %s: attempt %d not taken (stale, or the job finished)", event.job_id, event.attempt
            )
