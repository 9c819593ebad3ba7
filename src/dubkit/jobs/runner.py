"""The in-process job runner: a few worker threads on one machine that work through a `JobStore`.

Each worker thread opens its own `JobStore` on the same SQLite file (a store belongs to one thread), builds
one pipeline with the runner's factory and keeps it warm across jobs, and loops: claim a job under a lease,
download its input from `Storage`, dub it, upload the outputs under ``<owner>/<job_id>/output/`` and mark the
job completed. While a job runs, a heartbeat thread (with its own store) extends the lease every third of
its length and turns a cancel request in the store into the pipeline's `CancelToken`.

Outcomes, with processing at-least-once:

* success: outputs uploaded, then `JobStore.complete` with the media's key; the local work folder removed.
* a bad input (`MediaError`, `ConfigError`): `JobStore.fail` for good, with the error's message.
* any other error: `JobStore.fail` with ``retry=True``; the store counts attempts and dead-letters the job.
  The work folder is kept, so the next attempt on this machine resumes from the finished stages.
* a cancel request: partial outputs removed from storage and disk, then `JobStore.acknowledge_cancel`.
* a lost lease (the store refuses this worker's token): the worker stops working on the job quietly;
  the worker that holds the lease now finishes it.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path, PurePath
from types import TracebackType

import attrs

from dubkit.errors import CancelledError, ConfigError, DubkitError, JobError, MediaError, StorageError
from dubkit.jobs.claim import Claim
from dubkit.jobs.events import JobEvent, JobEventHub, JobEventState, JobSubscriber
from dubkit.jobs.store import JobStore
from dubkit.models.job import JobRecord, JobStatus
from dubkit.pipeline.pipeline import Pipeline
from dubkit.pipeline.progress import CancelToken, ProgressEvent, ProgressState
from dubkit.storage.paths import job_prefix, validate_segment
from dubkit.storage.protocol import Storage

__all__ = ["InProcessRunner", "RunStats", "input_file_name"]

logger = logging.getLogger(__name__)

_STAGE_STATES = {
    ProgressState.STARTED: JobEventState.STARTED,
    ProgressState.RUNNING: JobEventState.RUNNING,
    ProgressState.SKIPPED: JobEventState.SKIPPED,
    ProgressState.FINISHED: JobEventState.FINISHED,
    ProgressState.FAILED: JobEventState.STAGE_FAILED,
}
_PERMANENT = (MediaError, ConfigError)


@attrs.frozen
class RunStats:
    """How many jobs a runner finished, by outcome (on this runner; lost leases counted as ``lost``).

    Attributes:
        completed: Jobs completed.
        failed: Jobs that failed for good (bad input, or dead-lettered after their last attempt).
        retried: Attempts that failed and put the job back in the queue.
        cancelled: Jobs stopped by a cancel request.
        lost: Jobs whose lease this runner lost (another worker took them over).
    """

    completed: int = 0
    failed: int = 0
    retried: int = 0
    cancelled: int = 0
    lost: int = 0

    @property
    def total(self) -> int:
        """Every job outcome counted."""
        return self.completed + self.failed + self.retried + self.cancelled + self.lost


class _LeaseLost(Exception):
    """The store refused this worker's token: another worker holds the job now."""


class _Counter:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(("completed", "failed", "retried", "cancelled", "lost"), 0)

    def add(self, outcome: str) -> None:
        with self._lock:
            self._counts[outcome] += 1

    def snapshot(self) -> RunStats:
        with self._lock:
            return RunStats(**self._counts)


class InProcessRunner:
    """Runs queued dubbing jobs on worker threads of this process.

    Args:
        db_path: The job store's SQLite file (each thread opens its own `JobStore` on it).
        storage: Where job inputs are read and outputs written.
        pipeline_factory: Builds a pipeline; called once per worker thread, and the pipeline is kept warm
            (its backends loaded) across that thread's jobs, then closed when the thread ends.
        work_root: Local folder for job work; a job works in ``work_root/<job_id>/`` (its pipeline run
            directory is ``run/`` in it, so a job claimed again on this machine resumes its finished stages).
        workers: Number of worker threads (jobs run at the same time).
        lease_seconds: Length of a job's lease; a heartbeat extends it every third of that.
        max_attempts: Claims of a job before it is dead-lettered (passed to each `JobStore`).
        poll_seconds: How long an idle worker waits before trying to claim again (`start` only).
        progress_interval: Least time between two progress writes to the store for a job (a stage change
            is always written).
        cancel_check_seconds: How often a running job's cancel flag is read from the store (at most every
            third of the lease; default: every second).
        keep_work: Keep each job's local work folder after it completed, failed or was cancelled.
        name: This runner's name in lease owners and logs (default: host, process id and a random suffix).

    Raises:
        JobError: An option is out of range.
    """

    def __init__(
        self,
        db_path: str | Path,
        storage: Storage,
        pipeline_factory: Callable[[], Pipeline],
        *,
        work_root: str | Path,
        workers: int = 1,
        lease_seconds: float = 60.0,
        max_attempts: int = 3,
        poll_seconds: float = 1.0,
        progress_interval: float = 0.5,
        cancel_check_seconds: float | None = None,
        keep_work: bool = False,
        name: str | None = None,
    ) -> None:
        if workers < 1:
            raise JobError(f"workers must be at least 1, got {workers}")
        if lease_seconds <= 0 or poll_seconds <= 0 or progress_interval < 0:
            raise JobError("lease_seconds and poll_seconds must be positive, progress_interval not negative")
        if max_attempts < 1:
            raise JobError(f"max_attempts must be at least 1, got {max_attempts}")
        self.db_path = Path(db_path)
        self.storage = storage
        self.work_root = Path(work_root)
        self.workers = workers
        self.lease_seconds = float(lease_seconds)
        self.max_attempts = max_attempts
        self.poll_seconds = float(poll_seconds)
        self.progress_interval = float(progress_interval)
        heartbeat = self.lease_seconds / 3
        self.cancel_check_seconds = min(heartbeat, cancel_check_seconds or 1.0)
        self.keep_work = keep_work
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._factory = pipeline_factory
        self.events = JobEventHub()
        """Where job events go; `subscribe` adds a receiver."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, _JobRun] = {}
        self._counter = _Counter()
        self._errors: list[BaseException] = []

    def __repr__(self) -> str:
        return f"InProcessRunner({str(self.db_path)!r}, workers={self.workers}, name={self.name!r})"

    # --- subscribers -----------------------------------------------------------------------------

    def subscribe(self, callback: JobSubscriber) -> Callable[[], None]:
        """Send every `JobEvent` to ``callback`` (on the worker thread, in order per job).

        Returns:
            A function that unsubscribes ``callback``.
        """
        return self.events.subscribe(callback)

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether worker threads are running."""
        return any(t.is_alive() for t in self._threads)

    @property
    def stats(self) -> RunStats:
        """Job outcomes on this runner so far."""
        return self._counter.snapshot()

    def start(self) -> InProcessRunner:
        """Start the worker threads; they claim jobs until `stop`.

        Raises:
            JobError: The runner is already running.
        """
        self._launch(drain=False)
        logger.info("runner %s started with %d workers", self.name, self.workers)
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop claiming, and wait up to ``timeout`` seconds for running jobs to finish.

        Jobs still running then are interrupted at their next unit of work and put back in the queue
        (``fail(retry=True)``); their work folders stay, so they resume here or run elsewhere.

        Returns:
            Whether every worker thread ended.
        """
        self._stopping.set()
        deadline = time.monotonic() + max(0.0, timeout)
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        if any(t.is_alive() for t in self._threads):
            with self._lock:
                runs = list(self._running.values())
            for run in runs:
                logger.warning("runner %s stopping: interrupting job %s", self.name, run.job_id)
                run.abort()
            for thread in self._threads:
                thread.join(max(5.0, self.cancel_check_seconds * 2))
        alive = [t for t in self._threads if t.is_alive()]
        self._threads = alive
        logger.info("runner %s stopped (%d threads still running)", self.name, len(alive))
        return not alive

    def run_until_idle(self) -> RunStats:
        """Run jobs on the worker threads until none can be claimed, then return what this call did.

        For tests and the CLI: jobs whose lease has not yet expired are not claimable, so they are not waited
        for.

        Raises:
            JobError: The runner is running (`start` was called).
            Exception: A worker thread could not start (the pipeline factory failed).
        """
        before = self._counter.snapshot()
        self._launch(drain=True)
        for thread in self._threads:
            thread.join()
        self._threads = []
        if self._errors:
            error, self._errors = self._errors[0], []
            raise error
        after = self._counter.snapshot()
        return RunStats(
            completed=after.completed - before.completed,
            failed=after.failed - before.failed,
            retried=after.retried - before.retried,
            cancelled=after.cancelled - before.cancelled,
            lost=after.lost - before.lost,
        )

    def __enter__(self) -> InProcessRunner:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def _launch(self, *, drain: bool) -> None:
        if self.running:
            raise JobError(f"runner {self.name} is already running")
        self._stopping.clear()
        self._errors = []
        self._threads = [
            threading.Thread(
                target=self._worker,
                args=(f"{self.name}/w{i}", drain),
                name=f"dubkit-runner-w{i}",
                daemon=True,
            )
            for i in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()

    # --- the worker loop -------------------------------------------------------------------------

    def _open_store(self) -> JobStore:
        return JobStore(self.db_path, max_attempts=self.max_attempts).open()

    def _worker(self, worker_id: str, drain: bool) -> None:
        try:
            pipeline = self._factory()
        except BaseException as exc:
            logger.exception("worker %s could not build its pipeline", worker_id)
            with self._lock:
                self._errors.append(exc)
            return
        try:
            with pipeline, self._open_store() as store:
                while not self._stopping.is_set():
                    claim = self._claim(store, worker_id)
                    if claim is None:
                        if drain:
                            return
                        self._stopping.wait(self.poll_seconds)
                        continue
                    self._counter.add(self._process(claim, store, pipeline))
        except BaseException as exc:
            logger.exception("worker %s stopped on an unexpected error", worker_id)
            with self._lock:
                self._errors.append(exc)

    def _claim(self, store: JobStore, worker_id: str) -> Claim | None:
        try:
            return store.claim(worker_id, self.lease_seconds)
        except JobError:
            logger.exception("worker %s could not claim a job", worker_id)
            return None

    # --- one job ---------------------------------------------------------------------------------

    def _process(self, claim: Claim, store: JobStore, pipeline: Pipeline) -> str:
        job = claim.job
        run = _JobRun(self, claim, store)
        with self._lock:
            self._running[job.id] = run
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(run,), name=f"dubkit-heartbeat-{job.id}", daemon=True
        )
        heartbeat.start()
        try:
            return self._attempt(run, job, pipeline)
        finally:
            run.done.set()
            heartbeat.join()
            with self._lock:
                self._running.pop(job.id, None)

    def _attempt(self, run: _JobRun, job: JobRecord, pipeline: Pipeline) -> str:
        work = self.work_root / job.id
        started = time.perf_counter()
        run.event(None, JobEventState.CLAIMED, f"worker {run.claim.worker_id}, attempt {job.attempts}")
        try:
            try:
                media_key, size = self._dub(run, job, pipeline, work)
                run.guarded(
                    lambda: run.store.complete(
                        job.id,
                        run.token,
                        output_path=media_key,
                        output_size=size,
                        processing_time=time.perf_counter() - started,
                    )
                )
            except CancelledError:
                if run.lost.is_set():
                    raise _LeaseLost() from None
                if run.aborted.is_set():
                    return self._retry(run, job, "the runner stopped before the job finished", work)
                return self._cancel(run, job, work)
            except _LeaseLost:
                raise
            except _PERMANENT as exc:
                return self._fail(run, job, str(exc), work)
            except Exception as exc:
                if run.lost.is_set():
                    raise _LeaseLost() from exc
                logger.warning("job %s attempt %d failed", job.id, job.attempts, exc_info=True)
                return self._retry(run, job, _describe(exc), work)
        except _LeaseLost:
            logger.info("job %s: lease lost; another worker has it now", job.id)
            run.event(None, JobEventState.LOST, "the lease was taken over by another worker")
            return "lost"
        self._remove_work(work)
        run.event(None, JobEventState.COMPLETED, media_key, fraction=1.0)
        return "completed"

    def _dub(self, run: _JobRun, job: JobRecord, pipeline: Pipeline, work: Path) -> tuple[str, int]:
        if not job.input_path:
            raise ConfigError(f"job {job.id} has no input", field="input_path")
        if not self.storage.exists(job.input_path):
            raise ConfigError(f"the input of job {job.id} is missing from storage", field="input_path")
        name = input_file_name(job.original_filename)
        local = work / "input" / name
        self.storage.get_file(job.input_path, local)
        run.cancel.raise_if_cancelled()
        source_language = None if job.source_language in ("", "auto") else job.source_language
        request = pipeline.make_request(local, to=job.target_language, source_language=source_language)
        result = pipeline.execute(request, run_dir=work / "run", progress=run.progress, cancel=run.cancel)
        run.event(None, JobEventState.UPLOADING, "uploading outputs")
        out_dir = work / "output"
        shutil.rmtree(out_dir, ignore_errors=True)
        exported = result.export(out_dir, stem=PurePath(name).stem)
        prefix = job_prefix(job.user_id, job.id) + "output/"
        media_size = 0
        for path in (exported.srt, exported.vtt, exported.project, exported.media):  # media last
            run.cancel.raise_if_cancelled("upload")
            size = self.storage.put_file(path, prefix + validate_segment(path.name, what="output name"))
            if path == exported.media:
                media_size = size
        run.cancel.raise_if_cancelled("upload")
        return prefix + exported.media.name, media_size

    def _fail(self, run: _JobRun, job: JobRecord, message: str, work: Path) -> str:
        logger.info("job %s failed: %s", job.id, message)
        run.guarded(lambda: run.store.fail(job.id, run.token, message, retry=False))
        self._remove_work(work)
        run.event(None, JobEventState.FAILED, message)
        return "failed"

    def _retry(self, run: _JobRun, job: JobRecord, message: str, work: Path) -> str:
        record = run.guarded(lambda: run.store.fail(job.id, run.token, message, retry=True))
        if record.status is JobStatus.FAILED:
            self._remove_work(work)
            run.event(None, JobEventState.FAILED, record.error_message or message)
            return "failed"
        run.event(None, JobEventState.RETRYING, message)
        return "retried"

    def _cancel(self, run: _JobRun, job: JobRecord, work: Path) -> str:
        logger.info("job %s cancelled; removing its partial outputs", job.id)
        try:
            self.storage.delete(job_prefix(job.user_id, job.id) + "output", recursive=True)
        except StorageError:
            logger.warning("job %s: could not remove partial outputs", job.id, exc_info=True)
        run.guarded(lambda: run.store.acknowledge_cancel(job.id, run.token))
        self._remove_work(work)
        run.event(None, JobEventState.CANCELLED, "cancelled")
        return "cancelled"

    def _remove_work(self, work: Path) -> None:
        if not self.keep_work:
            shutil.rmtree(work, ignore_errors=True)

    # --- heartbeat -------------------------------------------------------------------------------

    def _heartbeat(self, run: _JobRun) -> None:
        interval = self.lease_seconds / 3
        try:
            with self._open_store() as store:
                next_beat = time.monotonic() + interval
                while not run.done.wait(self.cancel_check_seconds):
                    if time.monotonic() >= next_beat:
                        next_beat = time.monotonic() + interval
                        if not store.heartbeat(run.job_id, run.token, self.lease_seconds):
                            run.lose()
                            return
                    if not run.cancel.cancelled and store.cancelled(run.job_id):
                        logger.info("job %s: cancel requested", run.job_id)
                        run.cancel.cancel()
        except DubkitError:
            logger.exception("heartbeat of job %s failed; the lease will run out", run.job_id)


class _JobRun:
    """What the worker, the heartbeat thread and the progress hook share about one running job."""

    def __init__(self, runner: InProcessRunner, claim: Claim, store: JobStore) -> None:
        self.runner = runner
        self.claim = claim
        self.store = store
        self.job_id = claim.job_id
        self.token = claim.token
        self.cancel = CancelToken()
        self.lost = threading.Event()
        self.aborted = threading.Event()
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.get_ident()
        self._fraction = 0.0
        self._last_write = 0.0
        self._last_stage: str | None = None

    def lose(self) -> None:
        self.lost.set()
        self.cancel.cancel()

    def abort(self) -> None:
        self.aborted.set()
        self.cancel.cancel()

    def guarded(self, action: Callable[[], JobRecord]) -> JobRecord:
        try:
            return action()
        except JobError as exc:
            self.lost.set()
            raise _LeaseLost(str(exc)) from exc

    def event(
        self, stage: str | None, state: JobEventState, message: str = "", *, fraction: float | None = None
    ) -> None:
        with self._lock:
            if fraction is not None:
                self._fraction = max(self._fraction, fraction)
            self._send(stage, state, message, self._fraction)

    def _send(self, stage: str | None, state: JobEventState, message: str, stage_fraction: float) -> None:
        self.runner.events.publish(
            JobEvent(
                job_id=self.job_id,
                stage=stage,
                fraction=self._fraction,
                message=message,
                state=state,
                stage_fraction=stage_fraction,
                attempt=self.claim.job.attempts,
            )
        )

    def progress(self, event: ProgressEvent) -> None:
        """The pipeline's progress hook."""
        total = max(1, event.total)
        overall = min(1.0, (event.index + min(max(event.fraction, 0.0), 1.0)) / total)
        with self._lock:
            self._fraction = max(self._fraction, overall)
            self._send(event.stage, _STAGE_STATES[event.state], event.message, event.fraction)
            now = time.monotonic()
            due = (
                event.stage != self._last_stage
                or event.state is not ProgressState.RUNNING
                or now - self._last_write >= self.runner.progress_interval
            )
            if not due or threading.get_ident() != self._thread or self.lost.is_set():
                return  # the store belongs to the worker thread; another thread's event waits for the next
            self._last_stage, self._last_write = event.stage, now
            fraction = self._fraction
        try:
            self.store.update_progress(self.job_id, self.token, event.stage, fraction)
        except JobError:
            logger.info("job %s: progress refused; the lease was lost", self.job_id)
            self.lose()


def input_file_name(original: str) -> str:
    """A safe local file name for the input: the original name when it is a plain one, else ``input``."""
    name = PurePath(original.replace("\\", "/")).name
    try:
        validate_segment(name)
    except DubkitError:
        return "input"
    if name.startswith(".") or len(name) > 200:
        return "input" + PurePath(name).suffix[:16]
    return name


def _describe(exc: Exception) -> str:
    if isinstance(exc, DubkitError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"
