"""What the in-process runner's worker thread, lease keeper and progress hook share about one running job."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from dubkit.errors import JobError
from dubkit.jobs.attempt_events import AttemptEvents
from dubkit.jobs.claim import Claim
from dubkit.jobs.events import JobEventHub, JobEventState
from dubkit.jobs.store import JobStore
from dubkit.models.job import JobRecord
from dubkit.pipeline.progress import CancelToken, ProgressEvent, ProgressState

__all__ = ["JobRun", "LeaseLost"]

logger = logging.getLogger(__name__)


class LeaseLost(Exception):
    """The store refused this worker's token: another worker holds the job now."""


class JobRun:
    """One claimed job on a worker thread: its cancel token, its events, and its lease-guarded store writes.

    Args:
        claim: The claim.
        store: The worker thread's store (only that thread writes through it).
        hub: Where the job's events go.
        progress_interval: Least time between two progress writes to the store (stage changes always write).
    """

    def __init__(self, claim: Claim, store: JobStore, hub: JobEventHub, progress_interval: float) -> None:
        self.claim = claim
        self.store = store
        self.job_id = claim.job_id
        self.token = claim.token
        self.cancel = CancelToken()
        self.lost = threading.Event()
        self.aborted = threading.Event()
        self.events = AttemptEvents(claim.job_id, claim.job.attempts, hub.publish)
        self._progress_interval = progress_interval
        self._thread = threading.get_ident()
        self._last_write = 0.0
        self._last_stage: str | None = None

    def lose(self) -> None:
        """The lease was taken over: stop at the next unit of work."""
        self.lost.set()
        self.cancel.cancel()

    def abort(self) -> None:
        """The runner is stopping: stop at the next unit of work (the job goes back to the queue)."""
        self.aborted.set()
        self.cancel.cancel()

    def guarded(self, action: Callable[[], JobRecord]) -> JobRecord:
        """Run a lease-guarded store write; a refusal (`JobError`) means the lease was lost.

        Raises:
            LeaseLost: The store refused the token.
        """
        try:
            return action()
        except JobError as exc:
            self.lost.set()
            raise LeaseLost(str(exc)) from exc

    def event(
        self, stage: str | None, state: JobEventState, message: str = "", *, fraction: float | None = None
    ) -> None:
        """Send a job-level event."""
        self.events.send(stage, state, message, fraction=fraction)

    def progress(self, event: ProgressEvent) -> None:
        """The pipeline's progress hook: an event to subscribers, and (throttled) the stage to the store."""
        self.events.progress(event)
        now = time.monotonic()
        due = (
            event.stage != self._last_stage
            or event.state is not ProgressState.RUNNING
            or now - self._last_write >= self._progress_interval
        )
        if not due or threading.get_ident() != self._thread or self.lost.is_set():
            return  # the store belongs to the worker thread; another thread's event waits for the next
        self._last_stage, self._last_write = event.stage, now
        try:
            self.store.update_progress(self.job_id, self.token, event.stage, self.events.fraction)
        except JobError:
            logger.info("job %s: progress refused; the lease was lost", self.job_id)
            self.lose()
