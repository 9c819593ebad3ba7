"""A daemon thread that runs a check every few seconds while a job runs (lease heartbeat, cancel polling)."""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable
from types import TracebackType

__all__ = ["Watcher"]

logger = logging.getLogger(__name__)


class Watcher:
    """Calls ``check`` every ``interval`` seconds on its own thread until `stop`, or ``check`` returns false.

    An exception from ``check`` is logged and the watching goes on. Use it as a context manager around the
    job. The thread runs in a copy of the creating thread's context (`contextvars`), so its log lines carry
    the job's context (`dubkit.jobs.job_context`).

    Args:
        name: The thread's name.
        interval: Seconds between two checks (the first comes one interval after `start`).
        check: The check; returns whether to go on.
        finish: Called on the watching thread when it ends (to close what ``check`` opened there).
    """

    def __init__(
        self,
        name: str,
        interval: float,
        check: Callable[[], bool],
        finish: Callable[[], None] | None = None,
    ) -> None:
        self.interval = interval
        self._check = check
        self._finish = finish
        self._done = threading.Event()
        context = contextvars.copy_context()
        self._thread = threading.Thread(target=context.run, args=(self._run,), name=name, daemon=True)

    def _run(self) -> None:
        try:
            while not self._done.wait(self.interval):
                try:
                    if not self._check():
                        return
                except Exception:
                    logger.warning("%s: check failed; trying again", self._thread.name, exc_info=True)
        finally:
            if self._finish is not None:
                self._finish()

    def start(self) -> Watcher:
        """Start watching."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching and wait for the thread (at most one check long)."""
        self._done.set()
        if self._thread.is_alive():
            self._thread.join()

    def __enter__(self) -> Watcher:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
