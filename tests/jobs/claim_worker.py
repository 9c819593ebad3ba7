"""A worker process for the concurrency test: claims (and completes) jobs until none is left.

Top-level module (the test puts this folder on sys.path), so spawned processes can import it by name.
"""

from __future__ import annotations

import time
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from dubkit.errors import JobError
from dubkit.jobs import JobStore


def run(db_path: str, worker_id: str, lease_seconds: float, barrier: Barrier, results: Queue) -> None:  # type: ignore[type-arg]
    claimed: list[str] = []
    locked = 0
    other: list[str] = []
    with JobStore(Path(db_path), busy_timeout_s=30.0) as store:
        barrier.wait()
        start = time.perf_counter()
        while True:
            try:
                claim = store.claim(worker_id, lease_seconds)
                if claim is None:
                    break
                claimed.append(claim.job_id)
                store.complete(claim.job_id, claim.token, f"out/{claim.job_id}", 1, 0.0)
            except JobError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    locked += 1
                else:
                    other.append(str(exc))
        elapsed = time.perf_counter() - start
    results.put(
        {"worker": worker_id, "claimed": claimed, "locked": locked, "other": other, "elapsed": elapsed}
    )
