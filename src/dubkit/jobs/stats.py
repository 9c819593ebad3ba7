"""How many jobs a runner finished, by outcome."""

from __future__ import annotations

import threading
from enum import Enum

import attrs

__all__ = ["Outcome", "OutcomeCounter", "RunStats"]


class Outcome(str, Enum):
    """How one attempt at a job ended on this runner."""

    COMPLETED = "completed"
    FAILED = "failed"
    RETRIED = "retried"
    CANCELLED = "cancelled"
    LOST = "lost"


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

    def minus(self, earlier: RunStats) -> RunStats:
        """The outcomes counted since ``earlier``."""
        return RunStats(
            **{name: getattr(self, name) - getattr(earlier, name) for name in attrs.fields_dict(RunStats)}
        )


class OutcomeCounter:
    """A thread-safe tally of `Outcome`s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys((o.value for o in Outcome), 0)

    def add(self, outcome: Outcome) -> None:
        """Count one outcome."""
        with self._lock:
            self._counts[outcome.value] += 1

    def snapshot(self) -> RunStats:
        """The counts so far."""
        with self._lock:
            return RunStats(**self._counts)
