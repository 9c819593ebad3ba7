"""Keeps a claimed job's lease alive and notices cancel requests, on a thread of its own (in-process)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path

from dubkit.jobs.store import JobStore
from dubkit.jobs.watcher import Watcher
from dubkit.pipeline.progress import CancelToken

__all__ = ["LeaseKeeper"]

logger = logging.getLogger(__name__)


class LeaseKeeper(Watcher):
    """Extends a job's lease every third of its length and turns a cancel request into ``cancel``.

    It opens its own `JobStore` on ``db_path`` (a store belongs to one thread). When the store refuses the
    heartbeat, another worker holds the job now: ``on_lost`` is called and the keeper stops.

    Args:
        db_path: The job store's file.
        max_attempts: Passed to the store.
        job_id: The job.
        token: The claim's lease token.
        lease_seconds: The lease's length.
        check_seconds: How often the cancel flag is read (and whether a heartbeat is due).
        cancel: Cancelled when a cancel request is seen.
        on_lost: Called once when the lease is lost.
    """

    def __init__(
        self,
        db_path: Path,
        *,
        max_attempts: int,
        job_id: str,
        token: str,
        lease_seconds: float,
        check_seconds: float,
        cancel: CancelToken,
        on_lost: Callable[[], None],
    ) -> None:
        super().__init__(f"dubkit-lease-{job_id}", check_seconds, self._beat, self._close)
        self._store = JobStore(db_path, max_attempts=max_attempts)
        self._job_id = job_id
        self._token = token
        self._lease_seconds = lease_seconds
        self._cancel = cancel
        self._on_lost = on_lost
        self._next_beat = time.monotonic() + lease_seconds / 3

    def _beat(self) -> bool:
        if time.monotonic() >= self._next_beat:
            self._next_beat = time.monotonic() + self._lease_seconds / 3
            if not self._store.heartbeat(self._job_id, self._token, self._lease_seconds):
                logger.info("job %s: the lease was taken over", self._job_id)
                self._on_lost()
                return False
        if not self._cancel.cancelled and self._store.cancelled(self._job_id):
            logger.info("job %s: cancel requested", self._job_id)
            self._cancel.cancel()
        return True

    def _close(self) -> None:
        self._store.close()
