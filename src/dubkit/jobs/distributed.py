"""The distributed runner: jobs sent through Dramatiq on a Redis broker to stateless workers on many machines.

* Server side: `DistributedRunner.enqueue` sends a ``dub_job`` message for a stored job; `DistributedRunner.
  cancel` records the request in the store and sets ``dubkit:cancel:<job_id>`` in Redis; an
  `dubkit.jobs.redis_events.EventApplier` applies the workers' events to the `JobStore` (only the server
  writes SQLite).
* Worker side: `Actors` declares the ``dub_job`` actor on a broker from `make_broker`; run it with
  ``dramatiq.Worker`` (or the ``dramatiq`` CLI on a module that builds them). A worker reads the input from
  storage, dubs it in ``work_root/<job_id>/run`` (so a job delivered again to the same machine resumes its
  finished stages), uploads the outputs under ``<owner>/<job_id>/output/`` and publishes `JobEvent` values to
  the Redis stream ``dubkit:jobs:events``. It never touches SQLite.

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
from collections.abc import Callable
from pathlib import Path, PurePath
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from dubkit.errors import CancelledError, ConfigError, DubkitError, JobError, MediaError, StorageError
from dubkit.jobs.events import JobEventState
from dubkit.jobs.redis_events import (
    EventPublisher,
    JobResult,
    attempts_key,
    cancel_key,
)
from dubkit.jobs.runner import input_file_name
from dubkit.jobs.store import JobStore
from dubkit.models.job import JobRecord
from dubkit.pipeline.pipeline import Pipeline
from dubkit.pipeline.progress import CancelToken, ProgressEvent, ProgressState
from dubkit.storage.fsspec_storage import FsspecStorage
from dubkit.storage.paths import job_prefix, validate_segment
from dubkit.storage.protocol import Storage

__all__ = ["ACTOR_NAME", "QUEUE_NAME", "Actors", "DistributedRunner", "make_broker"]

logger = logging.getLogger(__name__)

ACTOR_NAME = "dub_job"
QUEUE_NAME = "dubkit"
_PERMANENT = (MediaError, ConfigError)
_STAGE_STATES = {
    ProgressState.STARTED: JobEventState.STARTED,
    ProgressState.RUNNING: JobEventState.RUNNING,
    ProgressState.SKIPPED: JobEventState.SKIPPED,
    ProgressState.FINISHED: JobEventState.FINISHED,
    ProgressState.FAILED: JobEventState.STAGE_FAILED,
}


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


class Actors:
    """The worker side: declares the ``dub_job`` actor on ``broker``.

    Args:
        broker: A broker from `make_broker`.
        pipeline_factory: Builds a pipeline; called once per worker thread, which keeps it warm across jobs.
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
        pipeline_factory: Callable[[], Pipeline],
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
        self._pipeline_factory = pipeline_factory
        self._storage_factory = storage_factory
        self._storages: dict[str, Storage] = {}
        self._local = threading.local()
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

    def _storage(self, url: str) -> Storage:
        with self._lock:
            if url not in self._storages:
                self._storages[url] = self._storage_factory(url)
            return self._storages[url]

    def _pipeline(self) -> Pipeline:
        pipeline: Pipeline | None = getattr(self._local, "pipeline", None)
        if pipeline is None:
            pipeline = self._pipeline_factory()
            self._local.pipeline = pipeline
        return pipeline

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
    ) -> None:
        """The actor: one delivery of a job (``attempt`` is the store's attempt count when it was sent)."""
        number = attempt + int(self.client.incr(attempts_key(job_id)))
        events = EventPublisher(self.client, job_id, number)
        work = self.work_root / job_id
        if number > self.max_attempts:
            message = f"dead-lettered after {number - 1} attempts"
            events.send(None, JobEventState.CLAIMED, "delivered again after the last attempt")
            events.send(None, JobEventState.FAILED, message)
            shutil.rmtree(work, ignore_errors=True)
            return
        events.send(None, JobEventState.CLAIMED, f"attempt {number}")
        cancel = CancelToken()
        done = threading.Event()
        poller = threading.Thread(
            target=self._poll_cancel, args=(job_id, cancel, done), name=f"dubkit-cancel-{job_id}", daemon=True
        )
        poller.start()
        storage = self._storage(storage_url)
        started = time.perf_counter()
        try:
            if self.client.exists(cancel_key(job_id)):
                cancel.cancel()
            media_key, size = self._dub(
                storage,
                events,
                cancel,
                work,
                job_id=job_id,
                owner=owner,
                input_key=input_key,
                original_filename=original_filename,
                target_language=target_language,
                source_language=source_language,
            )
        except CancelledError:
            self._cancelled(storage, events, work, owner, job_id)
            return
        except _PERMANENT as exc:
            events.send(None, JobEventState.FAILED, str(exc))
            shutil.rmtree(work, ignore_errors=True)
            return
        except Exception as exc:
            message = exc.message if isinstance(exc, DubkitError) else f"{type(exc).__name__}: {exc}"
            if number >= self.max_attempts:
                message = f"dead-lettered after {number} attempts; last error: {message}"
                events.send(None, JobEventState.FAILED, message)
                shutil.rmtree(work, ignore_errors=True)
                return
            events.send(None, JobEventState.RETRYING, message)
            raise  # Dramatiq retries the message; the work folder stays for the next attempt
        finally:
            done.set()
            poller.join()
        result = JobResult(output_size=size, processing_time=time.perf_counter() - started)
        shutil.rmtree(work, ignore_errors=True)
        events.send(None, JobEventState.COMPLETED, media_key, fraction=1.0, result=result)

    def _dub(
        self,
        storage: Storage,
        events: EventPublisher,
        cancel: CancelToken,
        work: Path,
        *,
        job_id: str,
        owner: str,
        input_key: str,
        original_filename: str,
        target_language: str,
        source_language: str | None,
    ) -> tuple[str, int]:
        if not storage.exists(input_key):
            raise ConfigError(f"the input of job {job_id} is missing from storage", field="input_path")
        name = input_file_name(original_filename or PurePath(input_key).name)
        local = work / "input" / name
        storage.get_file(input_key, local)
        cancel.raise_if_cancelled()
        pipeline = self._pipeline()
        language = None if source_language in (None, "", "auto") else source_language
        request = pipeline.make_request(local, to=target_language, source_language=language)

        def progress(event: ProgressEvent) -> None:
            total = max(1, event.total)
            overall = (event.index + min(max(event.fraction, 0.0), 1.0)) / total
            events.send(
                event.stage,
                _STAGE_STATES[event.state],
                event.message,
                fraction=overall,
                stage_fraction=event.fraction,
            )

        result = pipeline.execute(request, run_dir=work / "run", progress=progress, cancel=cancel)
        events.send(None, JobEventState.UPLOADING, "uploading outputs")
        out_dir = work / "output"
        shutil.rmtree(out_dir, ignore_errors=True)
        exported = result.export(out_dir, stem=PurePath(name).stem)
        prefix = job_prefix(owner, job_id) + "output/"
        media_size = 0
        for path in (exported.srt, exported.vtt, exported.project, exported.media):  # media last
            cancel.raise_if_cancelled("upload")
            size = storage.put_file(path, prefix + validate_segment(path.name, what="output name"))
            if path == exported.media:
                media_size = size
        cancel.raise_if_cancelled("upload")
        return prefix + exported.media.name, media_size

    def _cancelled(
        self, storage: Storage, events: EventPublisher, work: Path, owner: str, job_id: str
    ) -> None:
        logger.info("job %s cancelled; removing its partial outputs", job_id)
        try:
            storage.delete(job_prefix(owner, job_id) + "output", recursive=True)
        except StorageError:
            logger.warning("job %s: could not remove partial outputs", job_id, exc_info=True)
        shutil.rmtree(work, ignore_errors=True)
        events.send(None, JobEventState.CANCELLED, "cancelled")

    def _poll_cancel(self, job_id: str, cancel: CancelToken, done: threading.Event) -> None:
        while not done.wait(self.cancel_check_seconds):
            try:
                if self.client.exists(cancel_key(job_id)):
                    logger.info("job %s: cancel requested", job_id)
                    cancel.cancel()
                    return
            except redis.RedisError:
                logger.warning("job %s: could not read the cancel flag", job_id, exc_info=True)


class DistributedRunner:
    """The server side of the distributed runner: sends jobs and cancel requests to the workers.

    Args:
        store: The server's job store (used by `cancel` only, on the calling thread).
        broker: A broker from `make_broker` (no actor needs to be declared on it).
        storage_url: Where workers find job inputs and put outputs (the same storage as the server's).
        queue_name: The Dramatiq queue the workers consume.
    """

    def __init__(
        self, store: JobStore, broker: Any, storage_url: str, *, queue_name: str = QUEUE_NAME
    ) -> None:
        self.store = store
        self.broker = broker
        self.storage_url = storage_url
        self.queue_name = queue_name
        self.client: redis.Redis = broker.client
        broker.declare_queue(queue_name)

    def enqueue(self, record: JobRecord) -> str:
        """Send a stored job to the workers.

        Returns:
            The Dramatiq message id.

        Raises:
            JobError: The job has no input.
        """
        if not record.input_path:
            raise JobError(f"job {record.id} has no input", job_id=record.id)
        message: Any = dramatiq.Message(
            queue_name=self.queue_name,
            actor_name=ACTOR_NAME,
            args=(
                record.id,
                record.user_id,
                record.input_path,
                record.target_language,
                record.source_language,
                self.storage_url,
                record.attempts,
            ),
            kwargs={"original_filename": record.original_filename},
            options={},
        )
        self.client.delete(attempts_key(record.id))
        self.broker.enqueue(message)
        logger.info("job %s sent to queue %s", record.id, self.queue_name)
        return str(message.message_id)

    def cancel(self, job_id: str, owner: str) -> JobRecord:
        """Cancel a job: in the store (a waiting job at once), and for the worker running it.

        Raises:
            JobNotFoundError: No such job for this owner.
            JobError: The job already completed or failed.
        """
        record = self.store.request_cancel(job_id, owner)
        self.client.set(cancel_key(job_id), b"1", ex=7 * 24 * 3600)
        return record
