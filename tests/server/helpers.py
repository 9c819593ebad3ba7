"""Client-side helpers of the server tests: upload, wait, read a progress socket."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

FINISHED = ("completed", "failed", "cancelled")


def upload(
    client: httpx.Client,
    path: Path,
    targets: list[str] | str = "es",
    *,
    filename: str = "talk.mp4",
    content_type: str = "video/mp4",
    **fields: str,
) -> httpx.Response:
    data: dict[str, Any] = {"target_language": targets, "source_language": "en", **fields}
    with path.open("rb") as handle:
        return client.post("/api/v1/upload", files={"file": (filename, handle, content_type)}, data=data)


def upload_job(client: httpx.Client, path: Path, target: str = "es", **kwargs: Any) -> dict[str, Any]:
    response = upload(client, path, target, **kwargs)
    assert response.status_code == 201, response.text
    jobs: list[dict[str, Any]] = response.json()["jobs"]
    return jobs[0]


def wait_finished(client: httpx.Client, job_id: str, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}/status").json()
        if job["status"] in FINISHED:
            return job
        assert time.monotonic() < deadline, f"job {job_id} still {job['status']}"
        time.sleep(0.1)


def ws_url(base_url: str, job_id: str, api_key: str | None = None) -> str:
    url = base_url.replace("http://", "ws://", 1) + f"/api/v1/jobs/{job_id}/progress"
    return url if api_key is None else f"{url}?api_key={api_key}"


def read_socket(url: str, timeout: float = 60.0, **kwargs: Any) -> tuple[list[dict[str, Any]], int | None]:
    """Every message of a progress socket until the server closes it, and the close code."""
    messages: list[dict[str, Any]] = []
    with connect(url, open_timeout=10, close_timeout=5, **kwargs) as socket:
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                messages.append(json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic()))))
        except Exception as exc:
            if type(exc).__name__ not in ("ConnectionClosedOK", "ConnectionClosedError", "ConnectionClosed"):
                raise
        code = socket.close_code
    return messages, code


class SocketReader:
    """Reads a progress socket on a thread; `result` waits for the server to close it."""

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.messages: list[dict[str, Any]] = []
        self.code: int | None = None
        self._thread = threading.Thread(target=self._read, args=(url, timeout), daemon=True)
        self._thread.start()

    def _read(self, url: str, timeout: float) -> None:
        self.messages, self.code = read_socket(url, timeout)

    def result(self, timeout: float = 60.0) -> tuple[list[dict[str, Any]], int | None]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the progress socket is still open"
        return self.messages, self.code
