"""The job a worker thread is running, for its log lines: ``[job <id> attempt <n> <stage>]`` on each of them.

A runner enters `job_context` around each job (the distributed worker from a Dramatiq middleware, so that
Dramatiq's own lines about the message carry it too) and updates the stage from the pipeline's progress
(`follow_stage`). `JobLogFilter` on a logging handler adds the context to every record as ``%(job)s``;
`install_job_logging` puts the filter and a format that shows it on the root logger's handlers. The context
lives in a `contextvars.ContextVar`: each thread has its own, and a `dubkit.jobs.watcher.Watcher` started
during a job carries the job's context into its thread.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from contextvars import ContextVar, Token

import attrs

from dubkit.pipeline.progress import ProgressEvent, ProgressHook

__all__ = [
    "JOB_LOG_FORMAT",
    "JobContext",
    "JobLogFilter",
    "current_job",
    "follow_stage",
    "install_job_logging",
    "job_context",
]

JOB_LOG_FORMAT = "%(levelname)s %(name)s: %(job)s%(message)s"
"""The worker's log format: the CLI's, with the job's context before the message."""

_CURRENT: ContextVar[JobContext | None] = ContextVar("dubkit_job", default=None)


@attrs.define
class JobContext:
    """The job a thread works on (mutable: the stage and the attempt change while it runs).

    Attributes:
        job_id: The job.
        attempt: The attempt number, once known.
        stage: The pipeline stage running now (``upload`` while the outputs are uploaded).
        delivery: The queue's id of the message being processed (Dramatiq's ``redis_message_id``).
    """

    job_id: str
    attempt: int | None = None
    stage: str | None = None
    delivery: str | None = None

    def label(self) -> str:
        """``[job <id> attempt <n> <stage>] `` (the parts known so far)."""
        parts = [f"job {self.job_id}"]
        if self.attempt is not None:
            parts.append(f"attempt {self.attempt}")
        if self.stage:
            parts.append(self.stage)
        return "[" + " ".join(parts) + "] "


def current_job() -> JobContext | None:
    """The job this thread works on, if any."""
    return _CURRENT.get()


class _Scope:
    """Enters a `JobContext` for a ``with`` block.

    A class, not a generator: a generator suspended in a thread runs its clean-up wherever it is collected,
    and a child process forked by another thread with a ``preexec_fn`` collects it.
    """

    def __init__(self, context: JobContext) -> None:
        self.context = context
        self._token: Token[JobContext | None] | None = None

    def __enter__(self) -> JobContext:
        self._token = _CURRENT.set(self.context)
        return self.context

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _CURRENT.reset(self._token)
            self._token = None


def job_context(
    job_id: str, *, attempt: int | None = None, delivery: str | None = None
) -> AbstractContextManager[JobContext]:
    """Mark this thread as working on ``job_id`` until the ``with`` block ends."""
    return _Scope(JobContext(job_id, attempt=attempt, delivery=delivery))


def follow_stage(context: JobContext, hook: ProgressHook) -> ProgressHook:
    """``hook``, first recording each event's stage in ``context`` (from whichever thread reports it)."""

    def hook_following(event: ProgressEvent) -> None:
        context.stage = event.stage
        hook(event)

    return hook_following


class JobLogFilter(logging.Filter):
    """Adds ``record.job``: the thread's `JobContext` label, or an empty string outside any job."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Add the attribute; never drops a record."""
        context = _CURRENT.get()
        record.job = context.label() if context is not None else ""
        return True


def install_job_logging(fmt: str = JOB_LOG_FORMAT) -> None:
    """Show the job's context on every line of the root logger's handlers (a worker process calls it)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, JobLogFilter) for f in handler.filters):
            handler.addFilter(JobLogFilter())
        handler.setFormatter(logging.Formatter(fmt))
