"""Log lines written while a job runs name the job, its attempt and its stage, in every thread of the job."""

from __future__ import annotations

import logging

import pytest

from dubkit.jobs.job_context import JobLogFilter, current_job, follow_stage, job_context
from dubkit.jobs.watcher import Watcher
from dubkit.pipeline.progress import ProgressEvent


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.addFilter(JobLogFilter())
        self.setFormatter(logging.Formatter("%(job)s%(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def capture() -> Capture:
    handler = Capture()
    log = logging.getLogger("dubkit.test.jobs")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    yield handler
    log.removeHandler(handler)


def test_lines_in_a_job_and_in_its_watcher_thread_carry_the_job(capture: Capture) -> None:
    log = logging.getLogger("dubkit.test.jobs")
    log.info("before")
    seen: list[str] = []
    with job_context("j1", attempt=2) as context:
        hook = follow_stage(context, lambda event: None)
        log.info("claimed")
        hook(ProgressEvent("transcribe", 0.5))

        def check() -> bool:
            log.info("watching")
            seen.append("x")
            return False

        with Watcher("test-watcher", 0.01, check) as watcher:
            while not seen:
                watcher._done.wait(0.01)
        context.stage = "upload"
        log.info("uploading")
    log.info("after")
    assert current_job() is None
    assert capture.lines == [
        "before",
        "[job j1 attempt 2] claimed",
        "[job j1 attempt 2 transcribe] watching",
        "[job j1 attempt 2 upload] uploading",
        "after",
    ]
