"""The server with ``broker_url``: jobs go through a real Redis to a ``dubkit`` worker subprocess (Dramatiq),
and the server applies the worker's events to its store; nothing is dubbed in the server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from local_services import redis_server

from dubkit.testing import SampleVideo

from .conftest import LiveServer
from .helpers import SocketReader, upload_job, wait_finished, ws_url

WORKER = Path(__file__).resolve().parents[1] / "jobs" / "distributed_worker.py"


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    folder = tmp_path / "redis"
    folder.mkdir()
    with redis_server(folder) as url:
        yield url


@pytest.fixture
def worker(redis_url: str, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), redis_url, str(tmp_path / "worker-work")],
        env={**os.environ, "DUBKIT_TEST_TRANSCRIBE_SLEEP": "0"},
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().split()[0] == b"ready"
    yield proc
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    proc.stdout.close()


def test_a_job_is_dubbed_by_a_worker_and_reported_live(
    start_server: Any, redis_url: str, worker: subprocess.Popen[bytes], sample_video: SampleVideo
) -> None:
    server: LiveServer = start_server(broker_url=redis_url)
    assert server.app.state.services.runner is None  # no in-process runner: nothing dubs here
    client = server.client()
    job = upload_job(client, sample_video.path, "es")
    reader = SocketReader(ws_url(server.url, job["id"]))
    done = wait_finished(client, job["id"])
    messages, code = reader.result()
    assert done["status"] == "completed", done["error_message"]
    assert done["progress"] == 1.0 and done["output_size"] > 0 and done["stage"] == "mux"
    assert messages[-1]["type"] == "final" and messages[-1]["status"] == "completed" and code == 1000
    assert server.gate.entered.is_set() is False  # the server's own stand-in transcriber never ran
    download = client.get(f"/api/v1/jobs/{job['id']}/download", headers={"Range": "bytes=0-99"})
    assert download.status_code == 206 and len(download.content) == 100
    assert client.get(f"/api/v1/jobs/{job['id']}/subtitles.vtt").text.startswith("WEBVTT")


def test_a_redub_runs_on_a_worker_from_the_mirrored_run(
    start_server: Any, redis_url: str, worker: subprocess.Popen[bytes], sample_video: SampleVideo
) -> None:
    server: LiveServer = start_server(broker_url=redis_url)
    client = server.client()
    job = wait_finished(client, upload_job(client, sample_video.path, "es")["id"])
    assert job["status"] == "completed", job["error_message"]
    lines = client.get(job["links"]["segments"])
    line = lines.json()["segments"][0]["id"]
    edited = client.patch(
        f"{job['links']['segments']}/{line}",
        json={"translation": "HECHO EN OTRA MÁQUINA"},
        headers={"If-Match": lines.headers["etag"]},
    )
    assert edited.status_code == 200, edited.text
    assert client.post(job["links"]["redub"]).status_code == 202
    done = wait_finished(client, job["id"])
    assert done["status"] == "completed" and done["result_version"] == 2, done["error_message"]
    project = client.get(done["links"]["project"]).json()
    assert project["segments"][0]["translation"] == "HECHO EN OTRA MÁQUINA"
    assert project["quality"]["stage_seconds"]["transcribe"] == 0.0  # resumed from the job's run, not redone
    assert client.get(done["links"]["download"]).status_code == 200
