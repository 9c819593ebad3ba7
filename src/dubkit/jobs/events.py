"""Events a job runner sends to its subscribers: one typed value per step of a job, in order per job."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import Enum
from typing import Protocol

import attrs

__all__ = ["JobEvent", "JobEventHub", "JobEventState", "JobSubscriber"]

logger = logging.getLogger(__name__)


class JobEventState(str, Enum):
    """What a `JobEvent` announces.

    The stage states (``started``, ``running``, ``skipped``, ``finished``, ``stage_failed``) mirror
    `dubkit.pipeline.progress.ProgressState`; the others are about the job as a whole, and a job's last event
    is always one of ``completed``, ``failed``, ``retrying``, ``cancelled`` or ``lost``.
    """

    CLAIMED = "claimed"
    """A worker took the job; the input is about to be downloaded."""
    STARTED = "started"
    RUNNING = "running"
    SKIPPED = "skipped"
    """A stage's artifact existed (a resumed job) and the stage was skipped."""
    FINISHED = "finished"
    STAGE_FAILED = "stage_failed"
    UPLOADING = "uploading"
    """The dub is done; its files are being uploaded."""
    COMPLETED = "completed"
    FAILED = "failed"
    """The job failed for good (a bad input, or its attempts ran out)."""
    RETRYING = "retrying"
    """This attempt failed; the job went back to the queue."""
    CANCELLED = "cancelled"
    LOST = "lost"
    """This worker lost the job's lease (another worker has it); it stopped quietly."""

    @property
    def final(self) -> bool:
        """Whether this is the last event of the job on this worker."""
        return self in _FINAL


_FINAL = frozenset(
    {
        JobEventState.COMPLETED,
        JobEventState.FAILED,
        JobEventState.RETRYING,
        JobEventState.CANCELLED,
        JobEventState.LOST,
    }
)


@attrs.frozen(slots=True)
class JobEvent:
    """One step of a job on a runner.

    Attributes:
        job_id: The job.
        stage: The pipeline stage the event is about, or ``None`` for job-level events.
        fraction: Overall progress of the job, 0.0-1.0; never decreases within one attempt.
        message: A short human-readable note (an error message for ``failed`` and ``retrying``).
        state: What happened.
        stage_fraction: Progress within ``stage`` (0.0-1.0), or the overall fraction for job-level events.
        attempt: Which attempt of the job this is (1 for the first claim).
    """

    job_id: str
    stage: str | None
    fraction: float
    message: str
    state: JobEventState
    stage_fraction: float = 0.0
    attempt: int = 1


class JobSubscriber(Protocol):
    """Anything callable with a `JobEvent`; it runs on a worker thread, so it must be quick and not raise."""

    def __call__(self, event: JobEvent) -> None:
        """Receive one event."""


class JobEventHub:
    """Thread-safe fan-out of `JobEvent`s to subscribers; a subscriber that raises is logged, not fatal."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[JobSubscriber] = []

    def subscribe(self, callback: JobSubscriber) -> Callable[[], None]:
        """Send every published event to ``callback`` (on the publishing thread, in order).

        Returns:
            A function that unsubscribes ``callback``.
        """
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def publish(self, event: JobEvent) -> None:
        """Give ``event`` to every subscriber."""
        with self._lock:
            subscribers = tuple(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a broken subscriber must never break a job
                logger.exception("job event subscriber failed")
