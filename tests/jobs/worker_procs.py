"""Starts ``distributed_worker.py`` subprocesses for the distributed runner's tests, and stops them after."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
HEARTBEAT_TIMEOUT_S = 1.5
"""A worker silent this long is dead to the others, whose queue maintenance then redelivers its jobs."""
MAINTENANCE_INTERVAL_S = 0.2
"""How often each test worker runs that maintenance."""


class Workers:
    """Worker subprocesses on one Redis and storage; stopped (or killed) after the test.

    Args:
        redis_url: The broker.
        work_root: Where the workers' work folders go: ``w0``, ``w1``, ... one per worker, as on machines
            of their own (a redelivered job resumes from its checkpoints in storage).
        s3_endpoint: The S3 endpoint of ``s3://`` job storage, if any.
        extra: More arguments for every worker (``--sleep``, ``--max-attempts``).
    """

    def __init__(
        self, redis_url: str, work_root: Path, s3_endpoint: str | None = None, extra: tuple[str, ...] = ()
    ) -> None:
        self.redis_url = redis_url
        self.work_root = work_root
        self.s3_endpoint = s3_endpoint
        self.extra = extra
        self.procs: list[subprocess.Popen[bytes]] = []
        self.names: dict[int, str] = {}

    def folder(self, index: int) -> Path:
        """The work folder of the ``index``-th worker started."""
        return self.work_root / f"w{index}"

    def launch(self, *args: str) -> subprocess.Popen[bytes]:
        """Start a worker without waiting for it."""
        folder = self.folder(len(self.procs))
        command = [sys.executable, str(HERE / "distributed_worker.py"), self.redis_url, str(folder)]
        command += [*self.extra, *args]
        if self.s3_endpoint:
            command += ["--s3-endpoint", self.s3_endpoint]
        proc = subprocess.Popen(command, stdout=subprocess.PIPE)
        self.procs.append(proc)
        return proc

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        """Start a worker and wait until it consumes messages."""
        proc = self.launch(*args)
        assert proc.stdout is not None
        word, name = proc.stdout.readline().decode().split()
        assert word == "ready"
        self.names[proc.pid] = name
        return proc

    def stop(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL after 15 s)."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
