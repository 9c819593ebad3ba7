"""Job claims per second under 8-process contention on one SQLite file (WAL, BEGIN IMMEDIATE).

Each worker process loops claim -> complete until the queue is empty; both are write transactions, so the
file's single writer lock is contended the whole time. Also counts "database is locked" errors and double
claims (both must be 0).

Run: .venv/bin/python benchmarks/bench_claims.py   (writes benchmarks/results/claims.json)
"""

from __future__ import annotations

import json
import multiprocessing
import platform
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from dubkit.errors import JobError
from dubkit.jobs import JobStore
from dubkit.models.job import JobRecord

WORKERS = 8
JOBS = 2000
LEASE_S = 600.0


def _worker(db_path: str, worker_id: str, barrier, results) -> None:
    claimed: list[str] = []
    locked = 0
    with JobStore(Path(db_path)) as store:
        barrier.wait()
        start = time.perf_counter()
        while True:
            try:
                claim = store.claim(worker_id, LEASE_S)
                if claim is None:
                    break
                claimed.append(claim.job_id)
                store.complete(claim.job_id, claim.token, f"out/{claim.job_id}", 1, 0.0)
            except JobError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    locked += 1
                else:
                    raise
        end = time.perf_counter()
    results.put({"claimed": claimed, "locked": locked, "start": start, "end": end})


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db_path = Path(tmp) / "jobs.sqlite"
        with JobStore(db_path) as store:
            for i in range(JOBS):
                store.create(
                    JobRecord(
                        id=f"job-{i:05d}",
                        user_id=f"u{i % 10}",
                        original_filename="a.mp4",
                        target_language="de",
                    )
                )
        ctx = multiprocessing.get_context("spawn")
        barrier = ctx.Barrier(WORKERS)
        results = ctx.Queue()
        procs = [
            ctx.Process(target=_worker, args=(str(db_path), f"w{n}", barrier, results))
            for n in range(WORKERS)
        ]
        for proc in procs:
            proc.start()
        reports = [results.get(timeout=300) for _ in procs]
        for proc in procs:
            proc.join()
    wall = max(r["end"] for r in reports) - min(r["start"] for r in reports)
    counts = Counter(job for r in reports for job in r["claimed"])
    claims = sum(counts.values())
    out = {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "machine": platform.machine(),
        "workers": WORKERS,
        "jobs": JOBS,
        "cycle": "claim + complete (two BEGIN IMMEDIATE transactions, synchronous=FULL)",
        "wall_s": round(wall, 3),
        "claims": claims,
        "claims_per_s": round(claims / wall, 1),
        "per_worker_claims": sorted(len(r["claimed"]) for r in reports),
        "database_locked_errors": sum(r["locked"] for r in reports),
        "double_claims": sum(1 for n in counts.values() if n > 1),
        "unclaimed": JOBS - len(counts),
    }
    path = Path(__file__).parent / "results" / "claims.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
