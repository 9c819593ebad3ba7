"""What a running server holds: the job store (on its own thread), storage, the runner and the event hub.

Built and closed by the app's lifespan (`dubkit.server.app.create_app`); nothing is created at import time.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import anyio

from dubkit.backends.registry import Registry
from dubkit.jobs import InProcessRunner, JobStore
from dubkit.jobs.events import JobEvent, JobEventHub
from dubkit.jobs.pipelines import JobPipelines
from dubkit.models.job import JobRecord
from dubkit.pipeline.build import PipelineConfig
from dubkit.server.auth import ApiKeys
from dubkit.server.edit_store import EditStore
from dubkit.server.language_offers import LanguageOffers
from dubkit.server.rates import RateLimits
from dubkit.server.settings import ServerSettings
from dubkit.server.tus_store import TusUploads
from dubkit.server.voice_catalog import VoiceCatalog
from dubkit.storage import FsspecStorage

__all__ = ["ServerServices", "StoreThread"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


class StoreThread:
    """One `JobStore` used from one dedicated thread (a store belongs to one thread); the loop awaits it.

    Args:
        path: The SQLite file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="dubkit-store")
        self._store: JobStore | None = None

    def _run(self, action: Callable[[JobStore], T]) -> T:
        if self._store is None:
            self._store = JobStore(self.path).open()
        return action(self._store)

    async def call(self, action: Callable[[JobStore], T]) -> T:
        """Run ``action(store)`` on the store's thread."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._run, action)

    def call_sync(self, action: Callable[[JobStore], T]) -> T:
        """Run ``action(store)`` on the store's thread and wait (for start-up and shut-down)."""
        return self._executor.submit(self._run, action).result()

    def close(self) -> None:
        """Close the store and stop its thread."""

        def close(store: JobStore) -> None:
            store.close()

        if self._store is not None:
            self.call_sync(close)
        self._executor.shutdown(wait=True)


class ServerServices:
    """The server's collaborators, started by `start` and stopped by `stop`.

    Args:
        settings: The server's settings.
        pipelines: Each job's pipeline for the in-process runner (ignored with a broker).
        registry: The backend registry (lists backends; validates the names an upload asks for).
        config: The backends a job gets when it names none (what ``GET /languages`` and the upload check
            judge the language pairs by); default: the defaults.
    """

    def __init__(
        self,
        settings: ServerSettings,
        pipelines: JobPipelines,
        registry: Registry,
        config: PipelineConfig | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.languages = LanguageOffers(config or PipelineConfig(), registry)
        """The language pairs the backends can dub."""
        self.voices = VoiceCatalog(config or PipelineConfig(), registry)
        """The voices a job's synthesizer offers (for the line editor's voice picker)."""
        self.api_keys = ApiKeys(settings.api_keys)
        self.storage = FsspecStorage(settings.resolved_storage_url, s3=settings.s3_options())
        self.store = StoreThread(settings.db_path)
        self.edits = EditStore(self.storage)
        """The line editor's pending changes per job."""
        self.probe_slots = anyio.CapacityLimiter(settings.probe_concurrency)
        """Bounds how many uploads are probed at once (each probe runs ffprobe and ffmpeg)."""
        self.rate_limits = RateLimits(settings.upload_rate_limit, settings.api_rate_limit)
        """The callers' request budgets."""
        self.tus = TusUploads(
            settings.upload_dir / "tus",
            expiry_seconds=settings.tus_expiry_seconds,
            max_pending=settings.tus_max_pending_uploads,
            max_pending_bytes=settings.tus_max_pending_bytes,
        )
        """The resumable (tus) uploads."""
        self.events = JobEventHub()
        """Every job event the server sees (the runner's, and its own for jobs cancelled before they ran)."""
        self._pipelines = pipelines
        self.runner: InProcessRunner | None = None
        self.distributed: Any = None
        self._applier_stop = threading.Event()
        self._applier_thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        """Open the store, clear stale uploads, start the runner (or the broker link and event applier)."""
        settings = self.settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self._sweep_uploads(settings.upload_dir)
        self.tus.load()
        self.store.call_sync(lambda store: store.path)
        self.registry.specs()  # read the entry points now, not in the first upload's request
        if settings.broker_url:
            self._start_distributed(settings.broker_url)
        else:
            runner = InProcessRunner(
                settings.db_path,
                self.storage,
                self._pipelines,
                work_root=settings.data_dir / "work",
                workers=settings.runner_workers,
                poll_seconds=settings.runner_poll_seconds,
            )
            self._unsubscribe = runner.subscribe(self.events.publish)
            runner.start()
            self.runner = runner
        logger.info("dubkit server started (data %s, storage %s)", settings.data_dir, self.storage.url)

    def _start_distributed(self, broker_url: str) -> None:
        from dubkit.jobs.distributed import DistributedRunner, make_broker
        from dubkit.jobs.redis_events import EventApplier

        broker = make_broker(broker_url)
        storage_url = self.settings.resolved_storage_url
        self.distributed = self.store.call_sync(lambda store: DistributedRunner(store, broker, storage_url))
        ready = threading.Event()
        failure: list[BaseException] = []

        def apply_events() -> None:
            try:
                with JobStore(self.settings.db_path) as store:
                    applier = EventApplier(store, broker_url, storage=self.storage)
                    applier.subscribe(self.events.publish)
                    ready.set()
                    try:
                        applier.run(self._applier_stop, block_ms=200)
                    finally:
                        applier.close()
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                logger.exception("the job event applier stopped")

        self._applier_thread = threading.Thread(target=apply_events, name="dubkit-event-applier", daemon=True)
        self._applier_thread.start()
        ready.wait(30)
        if failure:
            raise failure[0]

    def stop(self) -> None:
        """Stop the runner and the applier, close the store."""
        if self.runner is not None:
            self.runner.stop(timeout=10.0)
            self.runner = None
        if self._unsubscribe is not None:
            self._unsubscribe()
        if self._applier_thread is not None:
            self._applier_stop.set()
            self._applier_thread.join(10)
        if self.distributed is not None:
            self.distributed.broker.close()
        self.store.close()

    async def enqueue(self, record: JobRecord) -> None:
        """Hand a stored job to the distributed workers, or wake the in-process runner to claim it now."""
        if self.runner is not None:
            self.runner.wake()
        if self.distributed is not None:
            distributed = self.distributed
            await asyncio.get_running_loop().run_in_executor(None, distributed.enqueue, record)

    async def cancel(self, job_id: str, owner: str) -> JobRecord:
        """Cancel a job (see `JobStore.request_cancel`), telling the workers when they run it elsewhere.

        Raises:
            JobNotFoundError: No such job for this owner.
            JobError: It already completed or failed.
        """
        if self.distributed is not None:
            distributed = self.distributed
            record: JobRecord = await self.store.call(lambda _store: distributed.cancel(job_id, owner))
            return record
        return await self.store.call(lambda store: store.request_cancel(job_id, owner))

    async def sweep_uploads_forever(self) -> None:
        """Remove expired resumable uploads now and then (until cancelled)."""
        interval = min(300.0, self.settings.tus_expiry_seconds / 4)
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tus.sweep()
            except OSError:
                logger.warning("sweeping expired uploads failed", exc_info=True)

    def publish(self, event: JobEvent) -> None:
        """Send a server-made event to the subscribers."""
        self.events.publish(event)

    @staticmethod
    def _sweep_uploads(folder: Path) -> None:
        """Remove staging files a crashed server left behind."""
        if not folder.is_dir():
            return
        for stale in folder.glob(".upload-*.part"):
            try:
                stale.unlink()
            except OSError:
                logger.warning("cannot remove stale upload %s", stale)
