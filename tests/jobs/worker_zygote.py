"""A fork server of warm workers for the chaos test: one process imports and warms everything once, then
forks a Dramatiq worker process (``distributed_worker.py``'s settings) for each ``spawn`` line on stdin and
prints its pid. A preforking server's master does the same; here it keeps restarts cheap, so that on a small
machine a kill every 0.5 s costs the work it interrupts and not a fresh interpreter each time.

Usage: ``python worker_zygote.py REDIS_URL WORK_ROOT SLEEP WARMUP_MEDIA``.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from distributed_backends import config
from worker_procs import HEARTBEAT_TIMEOUT_S, MAINTENANCE_INTERVAL_S

from dubkit.jobs.attempt import perform
from dubkit.jobs.dramatiq_worker import WorkerOptions, run_worker
from dubkit.jobs.pipelines import WarmPipelines
from dubkit.jobs.ticket import JobTicket
from dubkit.pipeline.progress import CancelToken
from dubkit.storage import FsspecStorage


def warm_up(pipelines: WarmPipelines, media: Path) -> None:
    """Dub ``media`` once here, so every lazy import and backend load is done before any fork."""
    with tempfile.TemporaryDirectory() as tmp:
        storage = FsspecStorage(str(Path(tmp) / "storage"))
        storage.put_file(media, "warm/up/input")
        ticket = JobTicket("up", "warm", "warm/up/input", "talk.mp4", "es", "en")
        perform(
            ticket,
            storage=storage,
            pipelines=pipelines,
            work=Path(tmp) / "work",
            cancel=CancelToken(),
            progress=lambda event: None,
            uploading=lambda: None,
        )


def serve(redis_url: str, work_root: str, pipelines: WarmPipelines) -> None:
    """The forked worker: run until SIGTERM (or SIGKILL)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # ffmpeg subprocesses must be waited for here
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    options = WorkerOptions(
        max_attempts=1000,
        heartbeat_timeout_s=HEARTBEAT_TIMEOUT_S,
        maintenance_interval_s=MAINTENANCE_INTERVAL_S,
        cancel_check_seconds=0.1,
        min_backoff_ms=100,
        stop_timeout_s=10,
    )
    own = Path(work_root) / str(os.getpid())  # each worker its own work folder, as on its own machine
    run_worker(redis_url, pipelines, work_root=own, stop=stop, options=options)


def main(redis_url: str, work_root: str, sleep: str, media: str) -> None:
    pipelines = WarmPipelines(config(float(sleep)))
    warm_up(pipelines, Path(media))
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the workers
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "spawn":
            continue
        pid = os.fork()
        if pid == 0:
            try:
                serve(redis_url, work_root, pipelines)
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:5])
