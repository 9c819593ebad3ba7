"""Starts ``distributed_worker.py`` subprocesses for the distributed runner's tests, and stops them after."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
HEARTBEAT_TIMEOUT_S = 1.5
"""A worker silent this long is dead to the others, whose queue maintenance then redelivers its jobs."""


class Workers:
    """Worker subprocesses on one Redis, with one work folder and storage; stopped (or killed) after the test.

    Args:
        redis_url: The broker.
        work_root: The workers' shared work folder (a redelivered job resumes its finished stages there).
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

    def launch(self, *args: str) -> subprocess.Popen[bytes]:
        """Start a worker without waiting for it."""
        command = [sys.executable, str(HERE / "distributed_worker.py"), self.redis_url, str(self.work_root)]
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
        assert proc.stdout.readline().strip() == b"ready"
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
