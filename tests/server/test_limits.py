"""Per-owner concurrency limit and rate limits, over a real uvicorn."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from dubkit.server import ServerSettings
from dubkit.testing import SampleVideo

from .conftest import LiveServer
from .helpers import read_socket, upload, wait_finished, ws_url
from .tus_client import TUS, create, create_url, patch

KEYS = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdef"}


def staged(server: LiveServer) -> list[Any]:
    folder = server.settings.upload_dir
    return [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []


def assert_too_many(response: httpx.Response, code: str) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code and response.json()["status"] == 429
    wait = int(response.headers["retry-after"])
    assert wait >= 1
    return wait


def test_an_owner_at_the_job_limit_is_refused_until_a_job_finishes(
    start_server: Callable[..., LiveServer], sample_video: SampleVideo
) -> None:
    server = start_server(KEYS, max_active_jobs_per_owner=1)
    alice, bob = server.client("alice"), server.client("bob")
    server.gate.close()
    try:
        first = upload(alice, sample_video.path, "es")
        assert first.status_code == 201, first.text
        assert server.gate.entered.wait(30), "the job never started"
        early = upload(alice, sample_video.path, "de")
        assert_too_many(early, "too_many_active_jobs")
        assert early.headers["connection"] == "close"  # refused before its body was read
        assert_too_many(create(alice, 1000), "too_many_active_jobs")  # a tus upload is refused at creation
        assert staged(server) == []
        assert alice.get("/api/v1/jobs").json()["total"] == 1
        assert alice.get("/api/v1/jobs").json()["jobs"][0]["id"] == first.json()["jobs"][0]["id"]
        other = upload(bob, sample_video.path, "de")  # another owner is not affected
        assert other.status_code == 201, other.text
        assert upload(alice, sample_video.path, "de,fr").status_code == 429
    finally:
        server.gate.open()
    assert wait_finished(alice, first.json()["jobs"][0]["id"])["status"] == "completed"
    again = upload(alice, sample_video.path, "de")
    assert again.status_code == 201, again.text
    for client, response in ((alice, again), (bob, other)):
        assert wait_finished(client, response.json()["jobs"][0]["id"])["status"] == "completed"


def test_more_targets_than_the_limit_is_422(
    start_server: Callable[..., LiveServer], sample_video: SampleVideo
) -> None:
    server = start_server(max_active_jobs_per_owner=2)
    client = server.client()
    refused = upload(client, sample_video.path, "es,de,fr")
    assert refused.status_code == 422, refused.text
    assert create(client, 1000, target_language="es,de,fr").status_code == 422
    assert client.get("/api/v1/jobs").json()["total"] == 0


def test_concurrent_uploads_by_one_owner_never_pass_the_limit(
    start_server: Callable[..., LiveServer], sample_video: SampleVideo
) -> None:
    server = start_server(max_active_jobs_per_owner=2, probe_concurrency=4)
    server.gate.close()  # no job finishes while the uploads race
    statuses: list[int] = []
    barrier = threading.Barrier(6)

    def one() -> None:
        client = server.client()
        barrier.wait()
        statuses.append(upload(client, sample_video.path, "es").status_code)

    threads = [threading.Thread(target=one) for _ in range(6)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert sorted(statuses) == [201, 201, 429, 429, 429, 429], statuses
        jobs = server.client().get("/api/v1/jobs").json()
        assert jobs["total"] == 2
        assert staged(server) == []
    finally:
        server.gate.open()


def test_a_finished_tus_upload_over_the_limit_waits_for_room(
    start_server: Callable[..., LiveServer], sample_video: SampleVideo
) -> None:
    server = start_server(max_active_jobs_per_owner=1)
    client = server.client()
    video = sample_video.path.read_bytes()
    url = create_url(client, len(video))  # room now
    server.gate.close()
    try:
        running = upload(client, sample_video.path, "de")
        assert running.status_code == 201
        refused = patch(client, url, 0, video)  # the bytes arrive, but the room is gone
        assert_too_many(refused, "too_many_active_jobs")
        head = client.head(url, headers=TUS)
        assert int(head.headers["upload-offset"]) == len(video) and "dubkit-job-ids" not in head.headers
    finally:
        server.gate.open()
    assert wait_finished(client, running.json()["jobs"][0]["id"])["status"] == "completed"
    retried = patch(client, url, len(video), b"")  # an empty PATCH at the end retries
    assert retried.status_code == 204, retried.text
    assert wait_finished(client, retried.headers["dubkit-job-ids"])["status"] == "completed"


def test_api_calls_are_rate_limited_per_caller(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(KEYS, api_rate_limit="3/minute", upload_rate_limit="2/minute")
    alice, bob, anonymous = server.client("alice"), server.client("bob"), server.client()
    for _ in range(3):
        assert alice.get("/api/v1/jobs").status_code == 200
    wait = assert_too_many(alice.get("/api/v1/jobs"), "rate_limited")
    assert wait <= 60
    assert alice.get("/api/v1/languages").status_code == 429  # one budget for every API call
    assert bob.get("/api/v1/jobs").status_code == 200  # per owner
    for _ in range(10):  # never limited
        assert alice.get("/api/v1/health").status_code == 200
        assert alice.get("/").status_code == 200
        assert alice.get("/static/app.js").status_code == 200
    # Uploads have their own budget: alice's API budget is spent, her uploads are not.
    assert create(alice, 1000).status_code == 201
    assert create(alice, 1000).status_code == 201
    over = create(alice, 1000)
    assert_too_many(over, "rate_limited")
    assert over.headers["tus-resumable"] == "1.0.0"
    # Requests without a valid key are counted by client address.
    for _ in range(3):
        assert anonymous.get("/api/v1/jobs").status_code == 401
    assert anonymous.get("/api/v1/jobs").status_code == 429


def test_a_progress_socket_counts_once_against_the_api_budget(
    start_server: Callable[..., LiveServer],
) -> None:
    server = start_server(KEYS, api_rate_limit="2/minute")
    bob = server.client("bob")
    assert bob.get("/api/v1/jobs").status_code == 200
    headers = {"additional_headers": {"X-API-Key": KEYS["bob"]}}
    assert read_socket(ws_url(server.url, "0" * 32), **headers) == ([], 4404)
    assert read_socket(ws_url(server.url, "0" * 32), **headers) == ([], 4429)
    assert bob.get("/api/v1/jobs").status_code == 429


def test_rate_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MAX_ACTIVE_JOBS_PER_OWNER", "UPLOAD_RATE_LIMIT", "API_RATE_LIMIT"):
        monkeypatch.delenv(f"DUBKIT_{name}", raising=False)
    defaults = ServerSettings()
    assert defaults.max_active_jobs_per_owner == 4
    assert defaults.upload_rate_limit == "20/minute" and defaults.api_rate_limit == "300/minute"
    assert ServerSettings(api_rate_limit="0").api_rate_limit == ""
    monkeypatch.setenv("DUBKIT_UPLOAD_RATE_LIMIT", "5/second;100/hour")
    assert ServerSettings().upload_rate_limit == "5/second;100/hour"
    with pytest.raises(ValidationError):
        ServerSettings(api_rate_limit="lots")
