"""A Dramatiq worker process for the distributed runner: what ``dubkit worker --broker`` runs.

`run_worker` declares the ``dub_job`` actor on a broker, starts a ``dramatiq.Worker`` with N worker threads
in this process, and stops it gracefully when ``stop`` is set (the CLI sets it on SIGTERM or SIGINT): no new
message is taken, running jobs finish (up to ``stop_timeout_s``), and the warm backends are closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path

import attrs
import dramatiq

from dubkit.jobs.actors import Actors
from dubkit.jobs.broker import QUEUE_NAME, make_broker
from dubkit.jobs.pipelines import PipelineSource
from dubkit.storage.fsspec_storage import FsspecStorage
from dubkit.storage.protocol import Storage

__all__ = ["WorkerOptions", "run_worker"]

logger = logging.getLogger(__name__)


@attrs.frozen
class WorkerOptions:
    """How a Dramatiq worker process runs.

    Attributes:
        threads: Jobs run at the same time (Dramatiq worker threads).
        max_attempts: Deliveries of a job before it fails for good.
        heartbeat_timeout_s: A worker silent this long is dead; its unfinished jobs are delivered again.
        maintenance_chance: Out of a million broker commands, how many run queue maintenance (the
            redelivery of dead workers' jobs); raise it for quick redelivery with few workers.
        cancel_check_seconds: How often a running job's cancel key is read.
        min_backoff_ms: Least wait before a failed attempt is retried.
        stop_timeout_s: How long a graceful stop waits for running jobs.
        queue_name: The Dramatiq queue.
    """

    threads: int = 1
    max_attempts: int = 3
    heartbeat_timeout_s: float = 60.0
    maintenance_chance: int = 1000
    cancel_check_seconds: float = 1.0
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
    ready: Callable[[], None] | None = None,
) -> None:
    """Consume ``dub_job`` messages from ``redis_url`` until ``stop`` is set, then stop gracefully.

    Args:
        redis_url: The broker's Redis.
        pipelines: What jobs run with (see `Actors`).
        work_root: Local folder for job work.
        stop: Set it to stop (from a signal handler or another thread).
        options: Threads, attempts, timeouts.
        storage_factory: Opens a job's storage URL.
        ready: Called once the worker consumes messages.
    """
    options = options or WorkerOptions()
    broker = make_broker(
        redis_url,
        heartbeat_timeout_ms=int(options.heartbeat_timeout_s * 1000),
        maintenance_chance=options.maintenance_chance,
    )
    actors = Actors(
        broker,
        pipelines,
        work_root=work_root,
        storage_factory=storage_factory,
        max_attempts=options.max_attempts,
        min_backoff_ms=options.min_backoff_ms,
        cancel_check_seconds=options.cancel_check_seconds,
        queue_name=options.queue_name,
    )
    worker = dramatiq.Worker(broker, worker_threads=options.threads, worker_timeout=100)
    worker.start()
    logger.info("dramatiq worker: %d thread(s) on queue %s", options.threads, options.queue_name)
    try:
        if ready is not None:
            ready()
        stop.wait()
    finally:
        logger.info("stopping: waiting for running jobs")
        worker.stop(timeout=int(options.stop_timeout_s * 1000))
        broker.close()
        actors.close()
