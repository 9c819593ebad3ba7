"""A Dramatiq worker process for the distributed runner's tests.

Usage: ``python distributed_worker.py REDIS_URL WORK_ROOT``; runs until SIGTERM (or SIGKILL).
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import dramatiq
from distributed_backends import make_pipeline

from dubkit.jobs.distributed import Actors, make_broker

HEARTBEAT_TIMEOUT_MS = 1500


def main(redis_url: str, work_root: str) -> None:
    broker = make_broker(redis_url, heartbeat_timeout_ms=HEARTBEAT_TIMEOUT_MS, maintenance_chance=1_000_000)
    Actors(broker, make_pipeline, work_root=work_root, min_backoff_ms=100, cancel_check_seconds=0.1)
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    worker.start()
    print("ready", flush=True)
    stop.wait()
    worker.stop()
    broker.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
