"""One attempt's `JobEvent`s, the same for both runners: stage progress mapped, overall fraction monotonic."""

from __future__ import annotations

import threading
from collections.abc import Callable

from dubkit.jobs.events import JobEvent, JobEventState
from dubkit.pipeline.progress import ProgressEvent, ProgressState

__all__ = ["STAGE_EVENT_STATES", "AttemptEvents", "overall_fraction"]

STAGE_EVENT_STATES = {
    ProgressState.STARTED: JobEventState.STARTED,
    ProgressState.RUNNING: JobEventState.RUNNING,
    ProgressState.SKIPPED: JobEventState.SKIPPED,
    ProgressState.FINISHED: JobEventState.FINISHED,
    ProgressState.FAILED: JobEventState.STAGE_FAILED,
}
"""The job event state of each pipeline progress state."""


def overall_fraction(event: ProgressEvent) -> float:
    """The job's progress (0 to 1) at ``event``: the finished stages plus this one's part."""
    total = max(1, event.total)
    return min(1.0, (event.index + min(max(event.fraction, 0.0), 1.0)) / total)


class AttemptEvents:
    """Makes one attempt's events and hands each to ``deliver``, in order (thread-safe).

    The overall ``fraction`` never decreases within the attempt.

    Args:
        job_id: The job.
        attempt: The attempt number (1 for the first).
        deliver: Receives each event, under this object's lock (so in the order they were made).
    """

    def __init__(self, job_id: str, attempt: int, deliver: Callable[[JobEvent], None]) -> None:
        self.job_id = job_id
        self.attempt = attempt
        self._deliver = deliver
        self._lock = threading.Lock()
        self._fraction = 0.0

    @property
    def fraction(self) -> float:
        """The overall progress reached so far."""
        with self._lock:
            return self._fraction

    def send(
        self,
        stage: str | None,
        state: JobEventState,
        message: str = "",
        *,
        fraction: float | None = None,
        stage_fraction: float | None = None,
    ) -> None:
        """Make and deliver one event (``fraction`` raises the overall progress; it never lowers it)."""
        with self._lock:
            self._deliver(self._make(stage, state, message, fraction, stage_fraction))

    def progress(self, event: ProgressEvent) -> None:
        """Deliver the job event of a pipeline progress event (a `dubkit.pipeline.progress.ProgressHook`)."""
        self.send(
            event.stage,
            STAGE_EVENT_STATES[event.state],
            event.message,
            fraction=overall_fraction(event),
            stage_fraction=event.fraction,
        )

    def _make(
        self,
        stage: str | None,
        state: JobEventState,
        message: str,
        fraction: float | None,
        stage_fraction: float | None,
    ) -> JobEvent:
        if fraction is not None:
            self._fraction = min(1.0, max(self._fraction, fraction))
        return JobEvent(
            job_id=self.job_id,
            stage=stage,
            fraction=self._fraction,
            message=message,
            state=state,
            stage_fraction=self._fraction if stage_fraction is None else stage_fraction,
            attempt=self.attempt,
        )
