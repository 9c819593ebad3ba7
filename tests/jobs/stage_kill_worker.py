"""Runs the queued job of a job store in this process and SIGKILLs itself right after one stage commits.

Usage: ``python stage_kill_worker.py DB STORAGE_ROOT WORK_ROOT STAGE`` (the in-process runner, with the
stand-in backends and a short lease, so the test can take the job over at once).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from distributed_backends import config
from kill_hook import KillingPipelines

from dubkit.jobs.pipelines import WarmPipelines
from dubkit.jobs.runner import InProcessRunner
from dubkit.storage import FsspecStorage

LEASE_SECONDS = 0.5


def main(db: str, storage_root: str, work_root: str, stage: str) -> None:
    runner = InProcessRunner(
        db,
        FsspecStorage(storage_root),
        KillingPipelines(WarmPipelines(config()), stage),
        work_root=work_root,
        lease_seconds=LEASE_SECONDS,
    )
    runner.run_until_idle()
    sys.exit(f"stage {stage} finished without the kill")


if __name__ == "__main__":
    main(*sys.argv[1:5])
