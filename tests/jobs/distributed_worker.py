"""A Dramatiq worker process for the distributed runner's tests, with the fast stand-in backends.

Usage: ``python distributed_worker.py REDIS_URL WORK_ROOT [--sleep S] [--max-attempts N]
[--kill-after STAGE] [--kill-after-final] [--s3-endpoint URL]``; prints ``ready <consumer id>`` once it
consumes, and runs until SIGTERM (or SIGKILL). With ``--kill-after`` the process SIGKILLs itself right after
that stage's artifact is committed, with ``--kill-after-final`` right after a job's final event, before the
message is acknowledged (test hooks; not in dubkit).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from distributed_backends import config
from kill_hook import KillingPipelines, kill_after_final_event
from worker_procs import HEARTBEAT_TIMEOUT_S, MAINTENANCE_INTERVAL_S

from dubkit.jobs.dramatiq_worker import WorkerOptions, run_worker
from dubkit.jobs.pipelines import WarmPipelines
from dubkit.storage import FsspecStorage, S3Options


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("redis_url")
    parser.add_argument("work_root")
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--max-attempts", type=int, default=3)
    parser.add_argument("--kill-after", default=None)
    parser.add_argument("--kill-after-final", action="store_true")
    parser.add_argument("--s3-endpoint", default=None)
    args = parser.parse_args()
    pipelines: Any = WarmPipelines(config(args.sleep))
    if args.kill_after:
        pipelines = KillingPipelines(pipelines, args.kill_after)
    if args.kill_after_final:
        kill_after_final_event()
    s3 = (
        S3Options(endpoint_url=args.s3_endpoint, key="testing", secret="testing", region="us-east-1")
        if args.s3_endpoint
        else None
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    options = WorkerOptions(
        max_attempts=args.max_attempts,
        heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
        maintenance_interval_s=MAINTENANCE_INTERVAL_S,
        cancel_check_seconds=0.1,
        min_backoff_ms=100,
        stop_timeout_s=10,
    )
    run_worker(
        args.redis_url,
        pipelines,
        work_root=args.work_root,
        stop=stop,
        options=options,
        storage_factory=lambda url: FsspecStorage(url, s3=s3),
        ready=lambda name: print("ready", name, flush=True),
    )


if __name__ == "__main__":
    main()
