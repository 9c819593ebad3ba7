"""A test hook for worker subprocesses: SIGKILL this process right after one stage commits its artifact."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dubkit.jobs.pipelines import JobPipelines
from dubkit.pipeline.pipeline import Pipeline
from dubkit.pipeline.progress import ProgressEvent, ProgressHook, ProgressState


class _KillAfter:
    """A pipeline whose progress hook SIGKILLs the process once ``stage`` has committed its artifact."""

    def __init__(self, pipeline: Pipeline, stage: str) -> None:
        self.pipeline = pipeline
        self.stage = stage

    def make_request(self, *args: Any, **kwargs: Any) -> Any:
        return self.pipeline.make_request(*args, **kwargs)

    def execute(self, request: Any, *, run_dir: Path, progress: ProgressHook, cancel: Any) -> Any:
        def hook(event: ProgressEvent) -> None:
            progress(event)
            if event.stage == self.stage and event.state is ProgressState.FINISHED:  # sent after the commit
                os.kill(os.getpid(), signal.SIGKILL)

        return self.pipeline.execute(request, run_dir=run_dir, progress=hook, cancel=cancel)


class KillingPipelines:
    """Job pipelines whose pipelines kill the process after ``stage`` (a `JobPipelines`)."""

    def __init__(self, inner: JobPipelines, stage: str) -> None:
        self.inner = inner
        self.stage = stage

    @contextmanager
    def open(self, backends: Mapping[str, str]) -> Iterator[Any]:
        with self.inner.open(backends) as pipeline:
            yield _KillAfter(pipeline, self.stage)

    def close(self) -> None:
        self.inner.close()


def kill_after_final_event() -> None:
    """Make this worker process SIGKILL itself right after it published a job's final event and marked the
    job finished, before Dramatiq acknowledges the message (the worst moment for a duplicate run)."""
    from dubkit.jobs.actors import Actors

    end = Actors._end

    def end_then_die(self: Actors, *args: Any, **kwargs: Any) -> None:
        end(self, *args, **kwargs)
        os.kill(os.getpid(), signal.SIGKILL)

    Actors._end = end_then_die  # type: ignore[method-assign]
