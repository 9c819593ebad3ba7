"""Resumable uploads (tus 1.0.0) over a real uvicorn: creation, PATCH in pieces, HEAD, resume after a cut,
the protocol's refusals, tenancy, termination, expiry, hostile content and concurrent PATCHes."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx

from dubkit.testing import SampleVideo

from .conftest import LiveServer, start_live_server
from .helpers import wait_finished
from .tus_client import (
    TUS,
    UPLOADS,
    create,
    create_url,
    offset_of,
    open_cut_patch,
    patch,
    patch_retrying,
    wait_offset,
)

MIB = 1024 * 1024


def tus_files(server: LiveServer) -> list[Path]:
    folder = server.settings.upload_dir / "tus"
    return sorted(folder.iterdir()) if folder.is_dir() else []


def finish_upload(
    client: httpx.Client, url: str, data: bytes, offset: int = 0, piece: int = MIB
) -> httpx.Response:
    """PATCH the rest of ``data`` from ``offset`` in pieces; the last answer."""
    while True:
        end = min(len(data), offset + piece)
        response = patch(client, url, offset, data[offset:end])
        assert response.status_code == 204 or end == len(data), response.text
        if end == len(data):
            return response
        assert int(response.headers["upload-offset"]) == end
        offset = end


def test_options_tell_the_protocol(live_server: LiveServer) -> None:
    response = live_server.client().options(UPLOADS)
    assert response.status_code == 204
    assert response.headers["tus-version"] == "1.0.0"
    assert set(response.headers["tus-extension"].split(",")) == {"creation", "termination", "expiration"}
    assert int(response.headers["tus-max-size"]) == live_server.settings.max_upload_bytes


def test_an_upload_in_pieces_makes_jobs_that_complete(
    live_server: LiveServer, sample_video: SampleVideo
) -> None:
    client = live_server.client()
    video = sample_video.path.read_bytes()
    url = create_url(client, len(video), target_language="es,de", filename="../Talk.mp4")
    assert offset_of(client, url) == 0
    head = client.head(url, headers=TUS)
    assert int(head.headers["upload-length"]) == len(video) and "upload-expires" in head.headers
    assert head.headers["tus-resumable"] == "1.0.0"
    third = len(video) // 3
    assert patch(client, url, 0, video[:third]).headers["upload-offset"] == str(third)
    assert offset_of(client, url) == third
    assert patch(client, url, third, video[third : 2 * third]).status_code == 204
    assert offset_of(client, url) == 2 * third
    last = patch(client, url, 2 * third, video[2 * third :])
    assert last.status_code == 204, last.text
    assert int(last.headers["upload-offset"]) == len(video)
    job_ids = last.headers["dubkit-job-ids"].split(",")
    assert len(job_ids) == 2
    # HEAD and GET on the finished upload tell the jobs too; its bytes went to storage.
    assert client.head(url, headers=TUS).headers["dubkit-job-ids"] == ",".join(job_ids)
    described = client.get(url).json()
    assert described["finished"] and described["offset"] == described["length"] == len(video)
    assert [job["id"] for job in described["jobs"]] == job_ids
    assert [job["target_language"] for job in described["jobs"]] == ["es", "de"]
    assert [p.suffix for p in tus_files(live_server)] == [".json"]
    for job_id in job_ids:
        job = wait_finished(client, job_id)
        assert job["status"] == "completed", job
        assert job["original_filename"] == "Talk.mp4" and job["input_size"] == len(video)
        stored = live_server.settings.data_dir / "files" / "local" / job_id / "input"
        assert stored.read_bytes() == video
    # A repeated last PATCH is harmless: the same jobs, nothing new.
    again = patch(client, url, len(video), b"")
    assert again.status_code == 204 and again.headers["dubkit-job-ids"] == ",".join(job_ids)


def test_a_cut_patch_keeps_what_arrived_and_the_client_resumes(
    live_server: LiveServer, sample_video: SampleVideo
) -> None:
    client = live_server.client()
    video = sample_video.path.read_bytes()
    url = create_url(client, len(video))
    sent = 1_234_567
    with open_cut_patch(live_server.url, url, 0, len(video), video[:sent]):
        wait_offset(client, url, MIB)  # the server is receiving (it writes in batches of 1 MiB)
    # The connection dropped: the server keeps exactly what arrived, and the client continues from there.
    assert wait_offset(client, url, sent) == sent
    last = patch_retrying(client, url, sent, video[sent:])
    assert last.status_code == 204, last.text
    (job_id,) = last.headers["dubkit-job-ids"].split(",")
    assert wait_finished(client, job_id)["status"] == "completed"
    assert (live_server.settings.data_dir / "files" / "local" / job_id / "input").read_bytes() == video


def test_protocol_refusals(live_server: LiveServer) -> None:
    client = live_server.client()
    url = create_url(client, 1000)
    assert patch(client, url, 0, b"x" * 10).status_code == 204
    # Wrong offset: 409, and nothing written.
    wrong = patch(client, url, 0, b"y" * 10)
    assert wrong.status_code == 409 and wrong.json()["code"] == "tus_offset_mismatch"
    assert wrong.headers["tus-resumable"] == "1.0.0"
    assert offset_of(client, url) == 10
    # Wrong content type: 415.
    typed = patch(client, url, 10, b"z", **{"Content-Type": "application/octet-stream"})
    assert typed.status_code == 415 and typed.headers["content-type"] == "application/problem+json"
    # No or another protocol version: 412 naming the one spoken.
    for version in ({}, {"Tus-Resumable": "0.2.2"}):
        refused = client.head(url, headers=version)
        assert refused.status_code == 412 and refused.headers["tus-version"] == "1.0.0"
    # A body that would pass Upload-Length: 413, with and without Content-Length; the offset stays sane.
    over = patch(client, url, 10, b"a" * 991)
    assert over.status_code == 413 and over.json()["code"] == "upload_too_large"
    assert offset_of(client, url) == 10

    def chunks() -> object:
        for _ in range(5):
            yield b"b" * 400

    streamed = patch(client, url, 10, chunks())
    assert streamed.status_code == 413
    offset = offset_of(client, url)
    assert 10 <= offset <= 1000
    data = next(p for p in tus_files(live_server) if p.name == url.rsplit("/", 1)[1] + ".part")
    assert data.stat().st_size == offset
    # Bad creations.
    assert create(client, live_server.settings.max_upload_bytes + 1).status_code == 413
    assert create(client, 1000, target_language="xx").status_code == 422
    assert create(client, 1000, target_language="en").status_code == 422  # the source language
    bad_metadata = client.post(UPLOADS, headers={**TUS, "Upload-Length": "10", "Upload-Metadata": "a !!!"})
    assert bad_metadata.status_code == 400
    assert client.post(UPLOADS, headers={**TUS, "Upload-Length": "-1"}).status_code == 400
    assert client.post(UPLOADS, headers={**TUS, "Upload-Defer-Length": "1"}).status_code == 400
    assert client.delete(url, headers=TUS).status_code == 204


def test_another_owner_gets_404(keyed_server: LiveServer) -> None:
    alice, bob = keyed_server.client("alice"), keyed_server.client("bob")
    url = create_url(alice, 100)
    assert patch(alice, url, 0, b"x" * 10).status_code == 204
    missing = UPLOADS + "/" + "0" * 32
    for target in (url, missing):
        assert bob.head(target, headers=TUS).status_code == 404
        assert bob.get(target).status_code == 404
        assert patch(bob, target, 10, b"y").status_code == 404
        assert bob.delete(target, headers=TUS).status_code == 404
    assert bob.get(url).json()["code"] == bob.get(missing).json()["code"] == "upload_not_found"
    assert offset_of(alice, url) == 10
    assert alice.delete(url, headers=TUS).status_code == 204


def test_delete_removes_the_partial_upload(live_server: LiveServer) -> None:
    client = live_server.client()
    before = tus_files(live_server)
    url = create_url(client, 5000)
    assert patch(client, url, 0, b"x" * 2000).status_code == 204
    assert len(tus_files(live_server)) == len(before) + 2  # its record and its bytes
    assert client.delete(url, headers=TUS).status_code == 204
    assert tus_files(live_server) == before
    assert client.head(url, headers=TUS).status_code == 404
    assert patch(client, url, 2000, b"x").status_code == 404


def test_html_sent_through_tus_is_415_and_leaves_nothing(live_server: LiveServer) -> None:
    client = live_server.client()
    before_files = tus_files(live_server)
    before_jobs = client.get("/api/v1/jobs").json()["total"]
    page = b"<!doctype html><title>not a video</title>" * 100
    url = create_url(client, len(page), filename="page.mp4")
    refused = patch(client, url, 0, page)
    assert refused.status_code == 415, refused.text
    assert refused.json()["code"] in ("not_media", "unsupported_format")
    assert tus_files(live_server) == before_files
    assert client.head(url, headers=TUS).status_code == 404
    assert client.get("/api/v1/jobs").json()["total"] == before_jobs


def test_expired_partial_uploads_are_swept(start_server: Callable[..., LiveServer]) -> None:
    server = start_server()
    client = server.client()
    url = create_url(client, 5000)
    assert patch(client, url, 0, b"x" * 100).status_code == 204
    uploads = server.app.state.services.tus
    expiry = server.settings.tus_expiry_seconds
    uploads.clock = lambda: time.time() + expiry + 1
    assert client.head(url, headers=TUS).status_code == 404  # expired: gone at once for the client
    assert len(tus_files(server)) == 2  # until the sweep
    uploads.clock = time.time
    fresh = create_url(client, 100)  # a creation sweeps first; the server also sweeps on its own
    assert client.head(url, headers=TUS).status_code == 200  # not swept yet: the clock went back
    uploads.clock = lambda: time.time() + expiry + 1
    assert create(client, 100).status_code == 201
    names = {p.stem for p in tus_files(server)}
    assert url.rsplit("/", 1)[1] not in names and fresh.rsplit("/", 1)[1] not in names
    uploads.clock = time.time


def test_unfinished_uploads_per_owner_are_capped(start_server: Callable[..., LiveServer]) -> None:
    server = start_server(tus_max_pending_uploads=2, tus_max_pending_bytes=10_000)
    client = server.client()
    first = create_url(client, 4000)
    create_url(client, 4000)
    refused = create(client, 100)
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_pending_uploads"
    assert int(refused.headers["retry-after"]) >= 1
    assert client.delete(first, headers=TUS).status_code == 204
    assert create(client, 7000).status_code == 429  # over the bytes announced
    assert create(client, 6000).status_code == 201


def test_two_patches_on_one_upload_do_not_interleave(live_server: LiveServer) -> None:
    client = live_server.client()
    url = create_url(client, 4 * MIB)
    first = 3 * MIB // 2
    with open_cut_patch(live_server.url, url, 0, 4 * MIB, b"a" * first):
        wait_offset(client, url, MIB)  # the first PATCH is writing
        second = patch(client, url, offset_of(client, url), b"b" * 100)
        assert second.status_code == 423 and second.json()["code"] == "upload_busy"
        assert client.delete(url, headers=TUS).status_code == 423
    offset = wait_offset(client, url, first)
    assert offset == first
    data = next(p for p in tus_files(live_server) if p.name == url.rsplit("/", 1)[1] + ".part")
    assert data.read_bytes() == b"a" * first
    deadline = time.monotonic() + 30
    while (gone := client.delete(url, headers=TUS)).status_code == 423:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert gone.status_code == 204


def test_an_upload_survives_a_server_restart(
    start_server: Callable[..., LiveServer], sample_video: SampleVideo
) -> None:
    video = sample_video.path.read_bytes()
    first = start_server()
    client = first.client()
    url = create_url(client, len(video))
    assert patch(client, url, 0, video[:1000]).status_code == 204
    first.stop()
    second = start_live_server(first.settings.data_dir)
    try:
        client = second.client()
        assert offset_of(client, url) == 1000
        last = finish_upload(client, url, video, 1000)
        assert last.status_code == 204, last.text
        (job_id,) = last.headers["dubkit-job-ids"].split(",")
        assert wait_finished(client, job_id)["status"] == "completed"
    finally:
        second.stop()
