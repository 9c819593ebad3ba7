"""The in-process job runner: a few worker threads on one machine that work through a `JobStore`.

Each worker thread opens its own `JobStore` on the same SQLite file (a store belongs to one thread) and
loops: claim a job under a lease, get the job's pipeline (the runner's settings plus the job's backend
choices, on warm backends shared by the threads), dub it with `dubkit.jobs.attempt.perform`, and record the
outcome. While a job runs, a `dubkit.jobs.lease_keeper.LeaseKeeper` (with its own store) extends the lease
every third of its length and turns a cancel request in the store into the pipeline's `CancelToken`.

Outcomes, with processing at-least-once:

* success: outputs uploaded, then `JobStore.complete` with the media's key; the local work folder removed.
  A cancel requested before the completion commits wins: the outputs are removed and the job is cancelled.
* a bad input or invalid backend choice (`dubkit.jobs.attempt.PERMANENT_ERRORS`): failed for good.
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
from pathlib import Path
from types import TracebackType

from dubkit.errors import CancelledError, JobError
from dubkit.jobs.attempt import (
    PERMANENT_ERRORS,
    describe_error,
    forget_run,
    input_file_name,
    perform,
    remove_outputs,
)
from dubkit.jobs.claim import Claim
from dubkit.jobs.events import JobEventHub, JobEventState, JobSubscriber
from dubkit.jobs.job_context import current_job, follow_stage, job_context
from dubkit.jobs.job_run import JobRun, LeaseLost
from dubkit.jobs.lease_keeper import LeaseKeeper
from dubkit.jobs.pipelines import PipelineSource, as_job_pipelines
from dubkit.jobs.stats import Outcome, OutcomeCounter, RunStats
from dubkit.jobs.store import JobStore
from dubkit.jobs.ticket import JobTicket
from dubkit.models.job import JobStatus
from dubkit.pipeline.progress import ProgressHook
from dubkit.storage.protocol import Storage

__all__ = ["InProcessRunner", "RunStats", "input_file_name"]

logger = logging.getLogger(__name__)


class InProcessRunner:
    """Runs queued dubbing jobs on worker threads of this process.

    Args:
        db_path: The job store's SQLite file (each thread opens its own `JobStore` on it).
        storage: Where job inputs are read and outputs written.
        pipelines: What each job runs with: a `dubkit.pipeline.build.PipelineConfig` (each job gets it with
            its own backend choices from ``job_metadata["backends"]``, on backends kept warm across jobs and
            shared by the threads, one job at a time per loaded backend), a `dubkit.jobs.pipelines.
            JobPipelines`, or a pipeline factory (called once per worker thread; jobs with backend choices
            then fail). Closed when the worker threads end.
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
        pipelines: PipelineSource,
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
        self.pipelines = as_job_pipelines(pipelines)
        self.events = JobEventHub()
        """Where job events go; `subscribe` adds a receiver."""
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._wakeup = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, JobRun] = {}
        self._counter = OutcomeCounter()
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

    def wake(self) -> None:
        """Have idle worker threads look for a job now rather than at their next poll (a job was queued)."""
        self._wakeup.set()

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop claiming, and wait up to ``timeout`` seconds for running jobs to finish.

        Jobs still running then are interrupted at their next unit of work and put back in the queue
        (``fail(retry=True)``); their work folders stay, so they resume here or run elsewhere.

        Returns:
            Whether every worker thread ended.
        """
        self._stopping.set()
        self._wakeup.set()
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
        if not alive:
            self.pipelines.close()
        logger.info("runner %s stopped (%d threads still running)", self.name, len(alive))
        return not alive

    def run_until_idle(self) -> RunStats:
        """Run jobs on the worker threads until none can be claimed, then return what this call did.

        For tests and the CLI: jobs whose lease has not yet expired are not claimable, so they are not waited
        for.

        Raises:
            JobError: The runner is running (`start` was called).
            Exception: A worker thread stopped on an unexpected error.
        """
        before = self._counter.snapshot()
        self._launch(drain=True)
        for thread in self._threads:
            thread.join()
        self._threads = []
        self.pipelines.close()
        if self._errors:
            error, self._errors = self._errors[0], []
            raise error
        return self._counter.snapshot().minus(before)

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
            with self._open_store() as store:
                while not self._stopping.is_set():
                    claim = self._claim(store, worker_id)
                    if claim is None:
                        if drain:
                            return
                        self._wakeup.wait(self.poll_seconds)
                        self._wakeup.clear()
                        continue
                    self._counter.add(self._process(claim, store))
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

    def _process(self, claim: Claim, store: JobStore) -> Outcome:
        with job_context(claim.job_id, attempt=claim.job.attempts):
            return self._process_in_context(claim, store)

    def _process_in_context(self, claim: Claim, store: JobStore) -> Outcome:
        run = JobRun(claim, store, self.events, self.progress_interval)
        with self._lock:
            self._running[run.job_id] = run
        keeper = LeaseKeeper(
            self.db_path,
            max_attempts=self.max_attempts,
            job_id=run.job_id,
            token=run.token,
            lease_seconds=self.lease_seconds,
            check_seconds=self.cancel_check_seconds,
            cancel=run.cancel,
            on_lost=run.lose,
        )
        try:
            with keeper:
                return self._attempt(run)
        finally:
            with self._lock:
                self._running.pop(run.job_id, None)

    def _attempt(self, run: JobRun) -> Outcome:
        job = run.claim.job
        work = self.work_root / job.id
        started = time.perf_counter()
        run.event(None, JobEventState.CLAIMED, f"worker {run.claim.worker_id}, attempt {job.attempts}")
        try:
            try:
                output = perform(
                    JobTicket.from_record(job),
                    storage=self.storage,
                    pipelines=self.pipelines,
                    work=work,
                    cancel=run.cancel,
                    progress=_following_stage(run.progress),
                    uploading=lambda: run.event(None, JobEventState.UPLOADING, "uploading outputs"),
                )
                run.guarded(
                    lambda: run.store.complete(
                        job.id,
                        run.token,
                        output_path=output.media_key,
                        output_size=output.media_size,
                        processing_time=time.perf_counter() - started,
                    )
                )
            except CancelledError:
                if run.lost.is_set():
                    raise LeaseLost() from None
                if run.aborted.is_set():
                    return self._retry(run, "the runner stopped before the job finished", work)
                return self._cancel(run, work)
            except LeaseLost:
                raise
            except PERMANENT_ERRORS as exc:
                return self._fail(run, str(exc), work)
            except Exception as exc:
                if run.lost.is_set():
                    raise LeaseLost() from exc
                logger.warning("job %s attempt %d failed", job.id, job.attempts, exc_info=True)
                return self._retry(run, describe_error(exc), work)
        except LeaseLost:
            logger.info("job %s: lease lost; another worker has it now", job.id)
            run.event(None, JobEventState.LOST, "the lease was taken over by another worker")
            return Outcome.LOST
        self._remove_work(work)
        run.event(None, JobEventState.COMPLETED, output.media_key, fraction=1.0)
        return Outcome.COMPLETED

    def _fail(self, run: JobRun, message: str, work: Path) -> Outcome:
        logger.info("job %s failed: %s", run.job_id, message)
        run.guarded(lambda: run.store.fail(run.job_id, run.token, message, retry=False))
        forget_run(self.storage, JobTicket.from_record(run.claim.job))
        self._remove_work(work)
        run.event(None, JobEventState.FAILED, message)
        return Outcome.FAILED

    def _retry(self, run: JobRun, message: str, work: Path) -> Outcome:
        record = run.guarded(lambda: run.store.fail(run.job_id, run.token, message, retry=True))
        if record.status is not JobStatus.UPLOADED:  # dead-lettered (a re-dub: back to its last result)
            forget_run(self.storage, JobTicket.from_record(run.claim.job))
            self._remove_work(work)
            run.event(None, JobEventState.FAILED, record.error_message or message)
            return Outcome.FAILED
        run.event(None, JobEventState.RETRYING, message)
        return Outcome.RETRIED

    def _cancel(self, run: JobRun, work: Path) -> Outcome:
        logger.info("job %s cancelled; removing its partial outputs", run.job_id)
        ticket = JobTicket.from_record(run.claim.job)
        remove_outputs(self.storage, ticket.owner, ticket.job_id, ticket.version)
        run.guarded(lambda: run.store.acknowledge_cancel(run.job_id, run.token))
        self._remove_work(work)
        run.event(None, JobEventState.CANCELLED, "cancelled")
        return Outcome.CANCELLED

    def _remove_work(self, work: Path) -> None:
        if not self.keep_work:
            shutil.rmtree(work, ignore_errors=True)


def _following_stage(hook: ProgressHook) -> ProgressHook:
    """``hook``, recording each event's stage in the thread's job context (for the log lines)."""
    context = current_job()
    return hook if context is None else follow_stage(context, hook)
