"""The worker side of the distributed runner: the ``dub_job`` Dramatiq actor.

A worker reads the input from storage, dubs it in ``work_root/<job_id>/run`` (so a job delivered again to
a machine with the same work folder resumes its finished stages), uploads the outputs under
``<owner>/<job_id>/output/`` and publishes `JobEvent` values to the Redis stream ``dubkit:jobs:events``. It
never touches SQLite. The job's backend choices travel in the message; its pipeline comes from the worker's
`dubkit.jobs.pipelines.JobPipelines` (warm backends shared by the worker's threads).

Delivery is at-least-once: the message is acknowledged after the actor returns; a worker that dies mid-job
stops heartbeating, and after the broker's ``heartbeat_timeout`` another worker's queue maintenance puts its
unacknowledged messages back in the queue. Every delivery counts as an attempt (a Redis counter per job);
a failed attempt is retried by Dramatiq until ``max_attempts``, then the job fails for good.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import dramatiq

from dubkit.errors import CancelledError, JobError
from dubkit.jobs.attempt import PERMANENT_ERRORS, describe_error, forget_run, perform, remove_outputs
from dubkit.jobs.broker import ACTOR_NAME, QUEUE_NAME
from dubkit.jobs.event_codec import JobResult
from dubkit.jobs.event_publisher import EventPublisher
from dubkit.jobs.events import JobEventState
from dubkit.jobs.pipelines import PipelineSource, as_job_pipelines
from dubkit.jobs.redis_keys import CANCEL_TTL_S, attempts_key, cancel_key, finished_key
from dubkit.jobs.ticket import JobTicket, redub_step
from dubkit.jobs.watcher import Watcher
from dubkit.pipeline.progress import CancelToken
from dubkit.storage.fsspec_storage import FsspecStorage
from dubkit.storage.protocol import Storage

__all__ = ["Actors"]

logger = logging.getLogger(__name__)


class Actors:
    """The worker side: declares the ``dub_job`` actor on ``broker``.

    Args:
        broker: A broker from `dubkit.jobs.broker.make_broker`.
        pipelines: What each job runs with: a `dubkit.pipeline.build.PipelineConfig` (plus the job's
            backend choices, on warm backends), a `dubkit.jobs.pipelines.JobPipelines`, or a pipeline
            factory (one pipeline per worker thread; jobs with backend choices then fail).
        work_root: Local folder for job work (``work_root/<job_id>/``).
        storage_factory: Opens the storage of a job's ``storage_url`` (default: `FsspecStorage`).
        max_attempts: Deliveries of a job before it fails for good.
        time_limit_s: Longest a job may run before Dramatiq interrupts it.
        min_backoff_ms: Least wait before a failed attempt is retried (Dramatiq doubles it per retry).
        cancel_check_seconds: How often a running job's cancel key is read.
        queue_name: The Dramatiq queue.
    """

    def __init__(
        self,
        broker: Any,
        pipelines: PipelineSource,
        *,
        work_root: str | Path,
        storage_factory: Callable[[str], Storage] = FsspecStorage,
        max_attempts: int = 3,
        time_limit_s: float = 6 * 3600.0,
        min_backoff_ms: int = 15_000,
        cancel_check_seconds: float = 1.0,
        queue_name: str = QUEUE_NAME,
    ) -> None:
        if max_attempts < 1:
            raise JobError(f"max_attempts must be at least 1, got {max_attempts}")
        self.broker = broker
        self.work_root = Path(work_root)
        self.max_attempts = max_attempts
        self.cancel_check_seconds = cancel_check_seconds
        self.pipelines = as_job_pipelines(pipelines)
        self._storage_factory = storage_factory
        self._storages: dict[str, Storage] = {}
        self._lock = threading.Lock()
        self.client = broker.client  # the broker's Redis connection pool, reused for events and cancel keys
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
        if self.client.exists(finished_key(job_id)):
            # delivered again after it ended (its worker died before acknowledging): nothing left to do
            logger.info("job %s already finished; this delivery is dropped", job_id)
            return
        number = attempt + int(self.client.incr(attempts_key(job_id)))
        events = EventPublisher(self.client, job_id, number)
        work = self.work_root / job_id
        if number > self.max_attempts:
            events.send(None, JobEventState.CLAIMED, "delivered again after the last attempt")
            self._end(events, work, JobEventState.FAILED, f"dead-lettered after {number - 1} attempts")
            return
        events.send(None, JobEventState.CLAIMED, f"attempt {number}")
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
        storage = self._storage(storage_url)
        cancel = CancelToken()
        started = time.perf_counter()
        try:
            if self.client.exists(cancel_key(job_id)):
                cancel.cancel()
            with Watcher(
                f"dubkit-cancel-{job_id}", self.cancel_check_seconds, lambda: self._poll(job_id, cancel)
            ):
                output = perform(
                    ticket,
                    storage=storage,
                    pipelines=self.pipelines,
                    work=work,
                    cancel=cancel,
                    progress=events.progress,
                    uploading=lambda: events.send(None, JobEventState.UPLOADING, "uploading outputs"),
                )
        except CancelledError:
            logger.info("job %s cancelled; removing its partial outputs", job_id)
            remove_outputs(storage, owner, job_id, ticket.version)
            self._end(events, work, JobEventState.CANCELLED, "cancelled")
            return
        except PERMANENT_ERRORS as exc:
            forget_run(storage, ticket)
            self._end(events, work, JobEventState.FAILED, str(exc))
            return
        except Exception as exc:
            message = describe_error(exc)
            if number >= self.max_attempts:
                final = f"dead-lettered after {number} attempts; last error: {message}"
                forget_run(storage, ticket)
                self._end(events, work, JobEventState.FAILED, final)
                return
            events.send(None, JobEventState.RETRYING, message)
            raise  # Dramatiq retries the message; the work folder stays for the next attempt
        result = JobResult(
            output_size=output.media_size,
            processing_time=time.perf_counter() - started,
            storage_url=storage_url,
        )
        self._end(events, work, JobEventState.COMPLETED, output.media_key, result)

    def _end(
        self,
        events: EventPublisher,
        work: Path,
        state: JobEventState,
        message: str,
        result: JobResult | None = None,
    ) -> None:
        """A job's last attempt ended: remove its work folder, publish its final event, mark it finished.

        The mark comes after the event: a worker killed in between leaves the job to run once more (its
        second final event is refused by the server's store), never to be dropped unfinished.
        """
        shutil.rmtree(work, ignore_errors=True)
        if result is not None:
            events.complete(message, result)
        else:
            events.send(None, state, message)
        self.client.set(finished_key(events.job_id), b"1", ex=CANCEL_TTL_S)

    def _poll(self, job_id: str, cancel: CancelToken) -> bool:
        """The cancel watcher's check: cancel when the job's cancel key exists (then stop watching)."""
        if self.client.exists(cancel_key(job_id)):
            logger.info("job %s: cancel requested", job_id)
            cancel.cancel()
            return False
        return True
