"""What a stage sees while it runs: its folder, the request, progress, cancellation and unit caches."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TypeVar

import attrs

from dubkit.errors import BackendRuntimeError, StageError, UnspeakableTextError
from dubkit.models.speech import SegmentIssue
from dubkit.pipeline.cache import UnitCache
from dubkit.pipeline.memory import release_free_memory
from dubkit.pipeline.progress import CancelToken
from dubkit.pipeline.stage import RunRequest

__all__ = ["StageContext"]

T = TypeVar("T")
U = TypeVar("U")

logger = logging.getLogger(__name__)


@attrs.define
class StageContext:
    """Passed to `Stage.run`.

    Attributes:
        stage: The running stage's name.
        request: What the run was asked to do.
        work_dir: The stage's own folder; write output files here.
        run_dir: The run directory.
        retries: How many times a failing unit is retried before it is marked failed.
        measurements: What the stage measured in this run (`measure`), reported beside its wall time.
    """

    stage: str
    request: RunRequest
    work_dir: Path
    run_dir: Path
    _report: Callable[[float, str, float | None], None]
    _cancel: CancelToken
    _units: Callable[[str], UnitCache]
    retries: int = 1
    issues: list[SegmentIssue] = attrs.field(factory=list)
    measurements: dict[str, float] = attrs.field(factory=dict)

    def measure(self, name: str, value: float) -> None:
        """Record something this run measured (processor seconds, ...) for the run's report.

        Measurements go to the `StageReport`, never into the artifact: they differ from run to run,
        and an artifact's bytes (which the next stages' keys hash) must not.
        """
        self.measurements[name] = value

    def progress(self, fraction: float, message: str = "", *, eta_seconds: float | None = None) -> None:
        """Report how far the stage is (0.0-1.0) and, when known, the seconds it has left."""
        self._report(min(1.0, max(0.0, fraction)), message, eta_seconds)

    def progress_since(self, started: float, fraction: float, message: str) -> None:
        """Report ``fraction`` done, with the time left at the pace kept since ``started``.

        Args:
            started: When the work began (`time.monotonic`).
            fraction: How much is done, 0.0-1.0 (nothing is estimated at 0).
            message: What is done (``chunk 3/12``); ``, ~Ns left`` is added when estimated.
        """
        left = (time.monotonic() - started) / fraction * (1.0 - fraction) if fraction > 0 else None
        if left is not None:
            message += f", ~{left:.0f}s left"
        self.progress(fraction, message, eta_seconds=left)

    def reporter(
        self, started: float, message: str, *, offset: float = 0.0, share: float = 1.0
    ) -> Callable[[float], None]:
        """A ``progress`` callback to hand a backend call that does ``share`` of the stage from ``offset``.

        Each call first checks for cancellation (raising `dubkit.errors.CancelledError`, which the backend
        lets through, so the run stops inside the call), then reports ``offset + share * fraction`` with
        the time left at the pace kept since ``started``: when the fraction moved, or a second after the
        last report (a backend may call it several times a second just to check).

        Args:
            started: When the stage's work began (`time.monotonic`).
            message: What is being done (``chunk 2/5``).
            offset: The stage's fraction done before the call.
            share: The stage's fraction the call covers.
        """
        last: list[float] = [-1.0, 0.0]  # the fraction reported last, and when

        def report(fraction: float) -> None:
            self.check_cancelled()
            done = offset + share * min(1.0, max(0.0, fraction))
            now = time.monotonic()
            if done != last[0] or now - last[1] >= 1.0:
                last[0], last[1] = done, now
                self.progress_since(started, done, message)

        return report

    def check_cancelled(self) -> None:
        """Raise `dubkit.errors.CancelledError` if the run was cancelled; call between units.

        Raises:
            CancelledError: the run's cancel token was cancelled.
        """
        self._cancel.raise_if_cancelled(self.stage)

    def units(self, namespace: str | None = None) -> UnitCache:
        """The per-unit cache of this stage (or of another namespace)."""
        return self._units(namespace or self.stage)

    def each(
        self,
        items: Iterable[T],
        *,
        total: int | None = None,
        label: str = "item",
        release_memory: bool = False,
    ) -> Iterator[T]:
        """Iterate units of work with cancellation checks and progress reports between them.

        Args:
            items: The units.
            total: How many there are (default: counted).
            label: What a unit is called in progress messages (``chunk 3/12``).
            release_memory: After each unit, hand the allocator's free pages back to the operating
                system (`dubkit.pipeline.memory.release_free_memory`): for units of long work (chunks
                of tens of seconds), so the process's resident size does not creep with the input's
                length.
        """
        seq = list(items)
        count = total if total is not None else len(seq)
        started = time.monotonic()
        for i, item in enumerate(seq):
            self.check_cancelled()
            self.progress_since(started, i / count if count else 1.0, f"{label} {i + 1}/{count}")
            yield item
            if release_memory:
                release_free_memory()
        self.progress(1.0, f"{count} {label}s")

    def attempt(self, unit: str, work: Callable[[], U], *, final: bool = True) -> U | None:
        """Run one unit of work with retries; a unit that still fails is recorded in `issues`.

        In strict mode the failure stops the stage instead. Text no voice can say
        (`dubkit.errors.UnspeakableTextError`) is not retried: it would fail again.

        Args:
            unit: What the work is (a segment id), for the record.
            work: The work.
            final: ``False`` when the caller has a fallback for a failure: then a failure is only
                logged and ``None`` returned (nothing is recorded, a strict run goes on).

        Raises:
            StageError: the unit failed, ``final`` is set and the request is strict.
        """
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            self.check_cancelled()
            try:
                return work()
            except (BackendRuntimeError, OSError, RuntimeError, ValueError) as exc:
                last = exc
                logger.warning("%s: %s failed (attempt %d): %s", self.stage, unit, attempt + 1, exc)
                if isinstance(exc, UnspeakableTextError):
                    break
        message = f"{type(last).__name__}: {last}"
        if not final:
            return None
        if self.request.strict:
            raise StageError(self.stage, f"{unit}: {message}") from last
        self.issues.append(SegmentIssue(segment_id=unit, stage=self.stage, message=message))
        return None
