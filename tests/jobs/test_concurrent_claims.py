from __future__ import annotations

import multiprocessing
from collections import Counter
from pathlib import Path

import pytest

from dubkit.jobs import JobStore
from dubkit.models.job import JobStatus

from .conftest import make_job

WORKERS = 8
JOBS = 200


def test_eight_processes_claim_every_job_exactly_once(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with JobStore(db_path) as store:
        for i in range(JOBS):
            store.create(make_job(f"job-{i:03d}", owner=f"owner-{i % 5}"))
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    import claim_worker  # type: ignore[import-not-found]

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    procs = [
        ctx.Process(target=claim_worker.run, args=(str(db_path), f"w{n}", 600.0, barrier, results))
        for n in range(WORKERS)
    ]
    for proc in procs:
        proc.start()
    reports = [results.get(timeout=60) for _ in procs]
    for proc in procs:
        proc.join(timeout=30)
        assert proc.exitcode == 0

    counts = Counter(job_id for report in reports for job_id in report["claimed"])
    assert sum(report["locked"] for report in reports) == 0  # no "database is locked"
    assert [other for report in reports for other in report["other"]] == []
    assert len(counts) == JOBS
    assert max(counts.values()) == 1  # no double claims
    assert sum(1 for report in reports if report["claimed"]) > 1  # the work really was shared
    with JobStore(db_path) as store:
        for owner in range(5):
            jobs = store.list(f"owner-{owner}", JobStatus.COMPLETED, limit=1000)
            assert len(jobs) == JOBS // 5
            assert all(job.attempts == 1 for job in jobs)
