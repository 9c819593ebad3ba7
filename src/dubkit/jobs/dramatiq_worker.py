"""A Dramatiq worker process for the distributed runner: what ``dubkit worker --broker`` runs.

`run_worker` checks that it can work (the broker answers, the work folder is its own, the storage it was
told to use can be written), sweeps its work folder, declares the ``dub_job`` actor on a broker, and starts
a ``dramatiq.Worker`` with N worker threads that take one job each at a time (prefetch = threads: a waiting
job stays in the queue for whichever worker is free, instead of waiting behind another in a busy worker).
A `dubkit.jobs.queue_maintenance.QueueMaintenance` timer puts the jobs of dead workers back in the queue.
It stops gracefully when ``stop`` is set (the CLI sets it on SIGTERM or SIGINT): no new message is taken,
running jobs finish (up to ``stop_timeout_s``), and the warm backends are closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import attrs
import dramatiq

from dubkit.errors import ConfigError
from dubkit.jobs.actors import Actors
from dubkit.jobs.broker import QUEUE_NAME, make_broker
from dubkit.jobs.pipelines import PipelineSource
from dubkit.jobs.queue_maintenance import QueueMaintenance
from dubkit.jobs.work_folder import WorkFolder
from dubkit.jobs.worker_middleware import JobKeysCleanup, install_worker_middleware
from dubkit.jobs.worker_preflight import check_broker, check_storage
from dubkit.storage.fsspec_storage import FsspecStorage
from dubkit.storage.protocol import Storage

__all__ = ["WorkerOptions", "run_worker"]

logger = logging.getLogger(__name__)

_POLL_MS = 100
"""How long an idle consumer waits between two fetches at most (also its heartbeat period when idle)."""


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{attribute.name} must be positive, got {value!r}", field=attribute.name)


@attrs.frozen
class WorkerOptions:
    """How a Dramatiq worker process runs.

    Attributes:
        threads: Jobs run at the same time (Dramatiq worker threads); the worker holds at most this many
            messages.
        max_attempts: Deliveries of a job before it fails for good.
        heartbeat_timeout_s: A worker silent this long is dead: its jobs go back to the queue at the next
            maintenance pass. A live worker talks to Redis at least every ``maintenance_interval_s`` (and
            about ten times a second while it has an idle consumer), so only a worker cut off from Redis,
            or frozen, for this long loses its jobs; it then notices and stops working on them. Use the
            same value on every worker.
        maintenance_interval_s: How often this worker runs queue maintenance (the redelivery of dead
            workers' jobs): a dead worker's job is back in the queue within ``heartbeat_timeout_s`` plus
            this.
        maintenance_chance: Out of a million broker commands, how many also run maintenance (Dramatiq's own
            random trigger; the timer makes it unnecessary).
        cancel_check_seconds: How often a running job's cancel key (and this worker's hold on the job) is
            read.
        min_backoff_ms: Least wait before a failed attempt is retried.
        stop_timeout_s: How long a graceful stop waits for running jobs.
        queue_name: The Dramatiq queue.
    """

    threads: int = 1
    max_attempts: int = 3
    heartbeat_timeout_s: float = attrs.field(default=15.0, validator=_positive)
    maintenance_interval_s: float = attrs.field(default=5.0, validator=_positive)
    maintenance_chance: int = 0
    cancel_check_seconds: float = attrs.field(default=0.25, validator=_positive)
    min_backoff_ms: int = 15_000
    stop_timeout_s: float = 600.0
    queue_name: str = QUEUE_NAME


def run_worker(
    redis_url: str,
    pipelines: PipelineSource,
    *,
    work_root: str | Path,
    stop: threading.Event,
    options: WorkerOptions | None = None,
    storage_factory: Callable[[str], Storage] = FsspecStorage,
    ready: Callable[[str], None] | None = None,
    storage_url: str | None = None,
) -> None:
    """Consume ``dub_job`` messages from ``redis_url`` until ``stop`` is set, then stop gracefully.

    Args:
        redis_url: The broker's Redis.
        pipelines: What jobs run with (see `Actors`).
        work_root: This worker's own local folder for job work (locked while the worker runs).
        stop: Set it to stop (from a signal handler or another thread).
        options: Threads, attempts, timeouts.
        storage_factory: Opens a job's storage URL.
        ready: Called with this worker's consumer id once it consumes messages.
        storage_url: A storage the worker must be able to write (checked at start); jobs name their own.

    Raises:
        ConfigError: The broker cannot be reached, another live worker uses ``work_root``, the work folder
            or the storage cannot be written.
    """
    options = options or WorkerOptions()
    check_broker(redis_url)
    work = WorkFolder(work_root).acquire()
    try:
        if storage_url is not None:
            check_storage(storage_factory, storage_url)
        work.sweep()
        _consume(redis_url, pipelines, work, stop, options, storage_factory, ready)
    finally:
        work.release()


def _consume(  # noqa: PLR0917 (run_worker's parts)
    redis_url: str,
    pipelines: PipelineSource,
    work: WorkFolder,
    stop: threading.Event,
    options: WorkerOptions,
    storage_factory: Callable[[str], Storage],
    ready: Callable[[str], None] | None,
) -> None:
    broker = make_broker(
        redis_url,
        heartbeat_timeout_ms=int(options.heartbeat_timeout_s * 1000),
        maintenance_chance=options.maintenance_chance,
    )
    cleanup = JobKeysCleanup(broker.client)
    install_worker_middleware(broker, cleanup)
    actors = Actors(
        broker,
        pipelines,
        work_root=work,
        storage_factory=storage_factory,
        max_attempts=options.max_attempts,
        min_backoff_ms=options.min_backoff_ms,
        cancel_check_seconds=options.cancel_check_seconds,
        queue_name=options.queue_name,
        cleanup=cleanup,
    )
    worker = dramatiq.Worker(broker, worker_threads=options.threads, worker_timeout=_POLL_MS)
    worker.queue_prefetch = options.threads  # one job per worker thread, none waiting behind another
    broker.maintain_all(options.queue_name)  # jobs of workers that died while none was running
    maintenance = QueueMaintenance(broker, options.queue_name, options.maintenance_interval_s)
    worker.start()
    maintenance.start()
    logger.info(
        "dramatiq worker %s: %d thread(s) on queue %s", broker.broker_id, options.threads, options.queue_name
    )
    try:
        if ready is not None:
            ready(broker.broker_id)
        stop.wait()
    finally:
        logger.info("stopping: waiting for running jobs")
        worker.stop(timeout=int(options.stop_timeout_s * 1000))
        maintenance.stop()
        broker.close()
        actors.close()
