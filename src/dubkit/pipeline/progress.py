"""Progress reporting and cancellation: a hook the application chooses, and a cancel token.

The pipeline calls a `ProgressHook` with `ProgressEvent` values; ready hooks print to
``logging`` (`LoggingProgress`), draw tqdm bars in notebooks and terminals
(`TqdmProgress`) or a rich live display in the CLI (`RichProgress`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from dubkit.errors import CancelledError

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

__all__ = [
    "CancelToken",
    "LoggingProgress",
    "MultiProgress",
    "ProgressEvent",
    "ProgressHook",
    "ProgressState",
    "RichProgress",
    "TqdmProgress",
]


class ProgressState(str, Enum):
    """What a progress event announces."""

    STARTED = "started"
    RUNNING = "running"
    SKIPPED = "skipped"
    FINISHED = "finished"
    FAILED = "failed"


@attrs.frozen(slots=True)
class ProgressEvent:
    """One progress report.

    Attributes:
        stage: The stage's name.
        fraction: How much of the stage is done, 0.0-1.0.
        message: A short human-readable note (``segment 3/12``).
        state: Started, running, skipped (its artifact existed), finished or failed.
        index: The stage's position in the pipeline (0-based).
        total: The number of stages.
        eta_seconds: Estimated seconds left in the stage, when known.
    """

    stage: str
    fraction: float
    message: str = ""
    state: ProgressState = ProgressState.RUNNING
    index: int = 0
    total: int = 1
    eta_seconds: float | None = None


class ProgressHook(Protocol):
    """Anything callable with a `ProgressEvent`. It must be quick and must not raise."""

    def __call__(self, event: ProgressEvent) -> None:
        """Receive one event."""


class CancelToken:
    """A thread-safe flag a caller sets to stop a run at the next unit of work."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        """Ask the run to stop."""
        self._event.set()

    @property
    def cancelled(self) -> bool:
        """Whether `cancel` was called."""
        return self._event.is_set()

    def raise_if_cancelled(self, stage: str | None = None) -> None:
        """Raise `dubkit.errors.CancelledError` if cancelled.

        Raises:
            CancelledError: the token was cancelled.
        """
        if self._event.is_set():
            raise CancelledError(stage)


class LoggingProgress:
    """Logs stage starts, ends and every ``step`` of progress to a logger."""

    def __init__(self, logger: logging.Logger | None = None, *, step: float = 0.25) -> None:
        self._logger = logger or logging.getLogger("dubkit.progress")
        self._step = step
        self._last: dict[str, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        """Log the event when it marks a state change or a new ``step``."""
        last = self._last.get(event.stage, -1.0)
        if event.state is not ProgressState.RUNNING or event.fraction - last >= self._step:
            self._last[event.stage] = event.fraction
            self._logger.info(
                "[%d/%d] %s %s %3.0f%% %s",
                event.index + 1,
                event.total,
                event.stage,
                event.state.value,
                event.fraction * 100,
                event.message,
            )


class TqdmProgress:
    """One tqdm bar per stage (``tqdm.auto``: widgets in Jupyter, text in a terminal)."""

    def __init__(self, **tqdm_kwargs: Any) -> None:
        self._kwargs = tqdm_kwargs
        self._bars: dict[str, Any] = {}

    def __call__(self, event: ProgressEvent) -> None:
        """Move the stage's bar."""
        from tqdm.auto import tqdm

        bar = self._bars.get(event.stage)
        if bar is None:
            settings = {
                "total": 100,
                "desc": f"{event.index + 1}/{event.total} {event.stage}",
                "unit": "%",
                "leave": True,
                **self._kwargs,
            }
            bar = tqdm(**settings)
            self._bars[event.stage] = bar
        bar.n = round(event.fraction * 100)
        if event.message:
            bar.set_postfix_str(event.message, refresh=False)
        if event.state in (ProgressState.FINISHED, ProgressState.SKIPPED, ProgressState.FAILED):
            bar.n = 100 if event.state is not ProgressState.FAILED else bar.n
            bar.set_postfix_str(event.state.value if not event.message else event.message, refresh=False)
            bar.refresh()
            bar.close()
        else:
            bar.refresh()

    def close(self) -> None:
        """Close any bar still open."""
        for bar in self._bars.values():
            bar.close()


class RichProgress:
    """A rich live display with one bar per stage; use as a context manager."""

    def __init__(self, progress: Progress | None = None) -> None:
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

        self._progress = progress or Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.fields[note]}"),
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def __call__(self, event: ProgressEvent) -> None:
        """Update the stage's bar."""
        task = self._tasks.get(event.stage)
        if task is None:
            task = self._progress.add_task(
                f"{event.index + 1}/{event.total} {event.stage}", total=1.0, note=""
            )
            self._tasks[event.stage] = task
        note = event.message
        if event.state is ProgressState.SKIPPED:
            note = "cached"
        self._progress.update(
            task,
            completed=1.0
            if event.state in (ProgressState.FINISHED, ProgressState.SKIPPED)
            else event.fraction,
            note=note,
        )


class MultiProgress:
    """Sends every event to several hooks."""

    def __init__(self, hooks: Sequence[ProgressHook]) -> None:
        self._hooks = tuple(hooks)

    def __call__(self, event: ProgressEvent) -> None:
        """Forward the event."""
        for hook in self._hooks:
            hook(event)
