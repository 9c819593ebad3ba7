"""The worker side of the distributed runner: the ``dub_job`` Dramatiq actor.

A worker reads the input from storage, dubs it in its work folder (``<work_root>/<job_id>/``, see
`dubkit.jobs.work_folder.WorkFolder`), uploads the outputs under ``<owner>/<job_id>/output/`` and publishes
`JobEvent` values to the Redis stream ``dubkit:jobs:events``. It never touches SQLite. The job's backend
choices travel in the message; its pipeline comes from the worker's `dubkit.jobs.pipelines.JobPipelines`
(warm backends shared by the worker's threads). A job resumes from its run checkpoints in storage
(`dubkit.jobs.checkpoints`) wherever it runs again.

Delivery is at-least-once: the message is acknowledged after the actor returns. A worker that dies mid-job
stops heartbeating, and once the broker's ``heartbeat_timeout`` has passed, the next queue maintenance
(another worker's timer, `dubkit.jobs.queue_maintenance`) puts its unacknowledged messages back in the
queue. While a job runs, a watcher thread reads the job's cancel key and checks that this worker still
holds the message (it is in this consumer's set of unacknowledged messages): a worker that was silent too
long and had its job handed to another stops working on it at once, without touching its outputs. Every
delivery counts as an attempt (`dubkit.jobs.attempt_ledger.AttemptLedger`); a failed attempt is retried by
Dramatiq until ``max_attempts``, then the job fails for good. The job's processing time is the sum of all
its attempts, which the ``completed`` event lists.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import dramatiq

from dubkit.errors import CancelledError, JobError
from dubkit.jobs.attempt import PERMANENT_ERRORS, describe_error, forget_run, perform, remove_outputs
from dubkit.jobs.attempt_ledger import INTERRUPTED, AttemptLedger
from dubkit.jobs.broker import ACTOR_NAME, QUEUE_NAME, acks_key
from dubkit.jobs.event_codec import JobResult
from dubkit.jobs.event_publisher import EventPublisher
from dubkit.jobs.events import JobEventState
from dubkit.jobs.job_context import JobContext, current_job, follow_stage, job_context
from dubkit.jobs.pipelines import PipelineSource, as_job_pipelines
from dubkit.jobs.redis_keys import JOB_KEY_TTL_S, cancel_key, finished_key
from dubkit.jobs.ticket import JobTicket, redub_step
from dubkit.jobs.watcher import Watcher
from dubkit.jobs.work_folder import WorkFolder
from dubkit.jobs.worker_middleware import JobKeysCleanup
from dubkit.pipeline.progress import CancelToken
from dubkit.storage.fsspec_storage import FsspecStorage
from dubkit.storage.protocol import Storage

__all__ = ["Actors"]

logger = logging.getLogger(__name__)

_TOUCH_SECONDS = 1.0
"""How often a running attempt records that it is alive (its time counts to the last record if it dies)."""


class Actors:
    """The worker side: declares the ``dub_job`` actor on ``broker``.

    Args:
        broker: A broker from `dubkit.jobs.broker.make_broker`.
        pipelines: What each job runs with: a `dubkit.pipeline.build.PipelineConfig` (plus the job's
            backend choices, on warm backends), a `dubkit.jobs.pipelines.JobPipelines`, or a pipeline
            factory (one pipeline per worker thread; jobs with backend choices then fail).
        work_root: Local folder for job work (``work_root/<job_id>/``), or a `WorkFolder` (its lock is the
            caller's business).
        storage_factory: Opens the storage of a job's ``storage_url`` (default: `FsspecStorage`).
        max_attempts: Deliveries of a job before it fails for good.
        time_limit_s: Longest a job may run before Dramatiq interrupts it.
        min_backoff_ms: Least wait before a failed attempt is retried (Dramatiq doubles it per retry).
        cancel_check_seconds: How often a running job's cancel key (and this worker's hold on the job) is
            read.
        queue_name: The Dramatiq queue.
        cleanup: Deletes a job's Redis keys once the message that ended it is acknowledged (a middleware
            the caller installs on the broker; default: one that deletes them when the job ends).
    """

    def __init__(
        self,
        broker: Any,
        pipelines: PipelineSource,
        *,
        work_root: str | Path | WorkFolder,
        storage_factory: Callable[[str], Storage] = FsspecStorage,
        max_attempts: int = 3,
        time_limit_s: float = 6 * 3600.0,
        min_backoff_ms: int = 15_000,
        cancel_check_seconds: float = 0.25,
        queue_name: str = QUEUE_NAME,
        cleanup: JobKeysCleanup | None = None,
    ) -> None:
        if max_attempts < 1:
            raise JobError(f"max_attempts must be at least 1, got {max_attempts}")
        self.broker = broker
        self.work = work_root if isinstance(work_root, WorkFolder) else WorkFolder(work_root)
        self.work_root = self.work.root
        self.max_attempts = max_attempts
        self.cancel_check_seconds = cancel_check_seconds
        self.queue_name = queue_name
        self.pipelines = as_job_pipelines(pipelines)
        self._storage_factory = storage_factory
        self._storages: dict[str, Storage] = {}
        self._lock = threading.Lock()
        self.client = broker.client  # the broker's Redis connection pool, reused for events and cancel keys
        self.cleanup = cleanup or JobKeysCleanup(self.client)
        self.dub_job = dramatiq.actor(
            broker=broker,
            actor_name=ACTOR_NAME,
            queue_name=queue_name,
            max_retries=max_attempts,  # we stop retrying ourselves at max_attempts deliveries
            min_backoff=min_backoff_ms,
            max_backoff=max(min_backoff_ms, 3_600_000),
            time_limit=int(time_limit_s * 1000),
        )(self._dub_job)

    def close(self) -> None:
        """Free the warm backends (after the Dramatiq worker stopped)."""
        self.pipelines.close()

    @property
    def worker_name(self) -> str:
        """This worker's consumer id on the broker (host, pid and a random part)."""
        return str(getattr(self.broker, "broker_id", "worker"))

    def _storage(self, url: str) -> Storage:
        with self._lock:
            if url not in self._storages:
                self._storages[url] = self._storage_factory(url)
            return self._storages[url]

    def _dub_job(  # noqa: PLR0917 (the message's arguments)
        self,
        job_id: str,
        owner: str,
        input_key: str,
        target_language: str,
        source_language: str | None,
        storage_url: str,
        attempt: int = 0,
        original_filename: str = "",
        backends: Mapping[str, str] | None = None,
        redub: Mapping[str, object] | None = None,
    ) -> None:
        """The actor: one delivery of a job (``attempt`` is the store's attempt count when it was sent).

        ``redub`` describes a re-dub step after edits (`dubkit.jobs.ticket.RedubStep`), absent for a dub.
        """
        ticket = JobTicket(
            job_id=job_id,
            owner=owner,
            input_key=input_key,
            original_filename=original_filename,
            target_language=target_language,
            source_language=source_language,
            backends=dict(backends or {}),
            redub=redub_step(redub),
        )
        context = current_job()
        if context is not None and context.job_id == job_id:  # entered by the worker's middleware
            self._deliver(context, ticket, storage_url, attempt)
            return
        with job_context(job_id) as made:  # a direct call
            self._deliver(made, ticket, storage_url, attempt)

    def _deliver(self, context: JobContext, ticket: JobTicket, storage_url: str, attempt: int) -> None:
        job_id = ticket.job_id
        if self.client.exists(finished_key(job_id)):
            # delivered again after it ended (its worker died before acknowledging): nothing left to do
            logger.info("job %s already finished; this delivery is dropped", job_id)
            self.cleanup.job_ended(context.delivery, job_id)
            return
        ledger = AttemptLedger(self.client, job_id)
        number = ledger.begin(attempt)
        context.attempt = number
        events = EventPublisher(self.client, job_id, number)
        if number > self.max_attempts:
            events.send(None, JobEventState.CLAIMED, "delivered again after the last attempt")
            self._end(context, events, JobEventState.FAILED, f"dead-lettered after {number - 1} attempts")
            return
        events.send(None, JobEventState.CLAIMED, f"attempt {number} on {self.worker_name}")
        logger.info("job %s: attempt %d started", job_id, number)
        with self.work.hold(job_id) as work:
            self._attempt(context, ticket, storage_url, number, ledger, events, work)

    def _attempt(  # noqa: PLR0917 (one attempt's parts)
        self,
        context: JobContext,
        ticket: JobTicket,
        storage_url: str,
        number: int,
        ledger: AttemptLedger,
        events: EventPublisher,
        work: Path,
    ) -> None:
        job_id, owner = ticket.job_id, ticket.owner
        storage = self._storage(storage_url)
        cancel = CancelToken()
        lost = threading.Event()
        try:
            if self.client.exists(cancel_key(job_id)):
                raise CancelledError()
            watch = self._watch(context, number, ledger, cancel, lost)
            with Watcher(f"dubkit-job-{job_id}", self.cancel_check_seconds, watch):
                output = perform(
                    ticket,
                    storage=storage,
                    pipelines=self.pipelines,
                    work=work,
                    cancel=cancel,
                    progress=follow_stage(context, events.progress),
                    uploading=lambda: self._uploading(context, events),
                )
        except CancelledError:
            if lost.is_set():
                self._lost(context, events, ledger, number)
                return
            logger.info("job %s cancelled; removing its partial outputs", job_id)
            remove_outputs(storage, owner, job_id, ticket.version)
            self._end(context, events, JobEventState.CANCELLED, "cancelled")
            return
        except PERMANENT_ERRORS as exc:
            if lost.is_set():
                self._lost(context, events, ledger, number)
                return
            forget_run(storage, ticket)
            self._end(context, events, JobEventState.FAILED, str(exc))
            return
        except Exception as exc:
            if lost.is_set():
                self._lost(context, events, ledger, number)
                return
            message = describe_error(exc)
            if number >= self.max_attempts:
                final = f"dead-lettered after {number} attempts; last error: {message}"
                forget_run(storage, ticket)
                self._end(context, events, JobEventState.FAILED, final)
                return
            logger.warning("job %s: attempt %d failed; it will be retried", job_id, number, exc_info=True)
            ledger.end(number, "retried")
            events.send(None, JobEventState.RETRYING, message)
            raise  # Dramatiq retries the message
        history = ledger.history(number, "completed")
        result = JobResult(
            output_size=output.media_size,
            processing_time=round(sum(t.seconds for t in history), 3),
            storage_url=storage_url,
            attempts=history,
        )
        self._end(context, events, JobEventState.COMPLETED, output.media_key, result)

    @staticmethod
    def _uploading(context: JobContext, events: EventPublisher) -> None:
        context.stage = "upload"
        events.send(None, JobEventState.UPLOADING, "uploading outputs")

    def _lost(self, context: JobContext, events: EventPublisher, ledger: AttemptLedger, number: int) -> None:
        """The job was handed to another worker while this one ran it: stop quietly, touch nothing."""
        logger.warning("job %s: another worker holds the job now; this attempt stops", context.job_id)
        ledger.end(number, INTERRUPTED)
        events.send(None, JobEventState.LOST, "the job was handed to another worker")

    def _end(
        self,
        context: JobContext,
        events: EventPublisher,
        state: JobEventState,
        message: str,
        result: JobResult | None = None,
    ) -> None:
        """A job's last attempt ended: publish its final event, mark it finished.

        The mark comes after the event: a worker killed in between leaves the job to run once more (its
        second final event is refused by the server's store), never to be dropped unfinished. The work
        folder is swept when the job's hold on it ends; the job's keys are deleted once its message is
        acknowledged.
        """
        if result is not None:
            events.complete(message, result)
        else:
            events.send(None, state, message)
        self.client.set(finished_key(events.job_id), b"1", ex=JOB_KEY_TTL_S)
        self.cleanup.job_ended(context.delivery, events.job_id)
        logger.info("job %s: %s", events.job_id, state.value)

    def _watch(
        self,
        context: JobContext,
        number: int,
        ledger: AttemptLedger,
        cancel: CancelToken,
        lost: threading.Event,
    ) -> Callable[[], bool]:
        """The watcher's check: a cancel request, the hold on the message, and a sign of life now and then."""
        job_id = context.job_id
        held = None if context.delivery is None else acks_key(self.worker_name, self.queue_name)
        next_touch = time.monotonic() + _TOUCH_SECONDS

        def check() -> bool:
            nonlocal next_touch
            pipe = self.client.pipeline(transaction=False)
            pipe.exists(cancel_key(job_id))
            if held is not None:
                pipe.sismember(held, context.delivery)
            replies = pipe.execute()
            if replies[0]:
                logger.info("job %s: cancel requested", job_id)
                cancel.cancel()
                return False
            if held is not None and not replies[1]:
                lost.set()
                cancel.cancel()
                return False
            if time.monotonic() >= next_touch:
                next_touch = time.monotonic() + _TOUCH_SECONDS
                ledger.touch(number)
            return True

        return check
