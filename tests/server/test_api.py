"""The API over a real uvicorn: upload, status, live progress, preview, download with ranges, subtitles,
project, cancel, listing, validation and health."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from dubkit.media import probe
from dubkit.storage import job_prefix
from dubkit.testing import SampleVideo

from .conftest import LiveServer
from .helpers import SocketReader, read_socket, upload, upload_job, wait_finished, ws_url
from .tus_client import create

API = "/api/v1"
JOB_FIELDS = {
    "id", "status", "stage", "progress", "source_language", "target_language", "original_filename",
    "created_at", "updated_at", "completed_at", "error_message", "input_size", "output_size",
    "processing_time_seconds", "links",
}  # fmt: skip


@pytest.fixture(scope="module")
def done_job(live_server: LiveServer, sample_video: SampleVideo) -> dict[str, Any]:
    """A job dubbed to Spanish while a progress socket watched it: its last status, the socket's messages."""
    client = live_server.client()
    live_server.gate.close()  # hold the job in transcribe until the socket is connected
    try:
        job = upload_job(client, sample_video.path, "es")
        reader = SocketReader(ws_url(live_server.url, job["id"]))
        assert live_server.gate.entered.wait(30)
        time.sleep(0.3)  # the socket has connected and sent its snapshot
    finally:
        live_server.gate.open()
    messages, code = reader.result()
    return {"job": wait_finished(client, job["id"]), "upload": job, "messages": messages, "code": code}


def test_upload_answers_201_with_one_job_per_target(
    live_server: LiveServer, sample_video: SampleVideo
) -> None:
    client = live_server.client()
    response = upload(client, sample_video.path, ["de", "fr,it"], filename="Talk.MP4")
    assert response.status_code == 201, response.text
    jobs = response.json()["jobs"]
    assert [j["target_language"] for j in jobs] == ["de", "fr", "it"]
    for job in jobs:
        assert set(job) >= JOB_FIELDS
        assert job["status"] in ("uploaded", "processing") and job["original_filename"] == "Talk.MP4"
        assert job["input_size"] == sample_video.path.stat().st_size
        assert job["links"]["download"] == f"{API}/jobs/{job['id']}/download"
        # each job has its own copy of the input, inside its own folder
        stored = Path(live_server.settings.data_dir / "files" / job_prefix("local", job["id"]) / "input")
        assert stored.read_bytes() == sample_video.path.read_bytes()
    for job in jobs:
        assert wait_finished(client, job["id"])["status"] == "completed"


def test_a_job_runs_to_completed_with_live_progress_in_order(done_job: dict[str, Any]) -> None:
    job, messages = done_job["job"], done_job["messages"]
    assert job["status"] == "completed" and job["progress"] == 1.0 and job["output_size"] > 0
    assert job["completed_at"] is not None and job["processing_time_seconds"] > 0
    assert done_job["code"] == 1000
    assert messages[0]["type"] == "progress" and messages[0]["state"] == "snapshot"
    assert messages[-1] == {
        "type": "final", "job_id": job["id"], "status": "completed", "error_message": None, "progress": 1.0,
    }  # fmt: skip
    live = [m for m in messages[1:-1] if m["type"] == "progress"]
    assert live and all(m["job_id"] == job["id"] for m in live)
    overall = [m["progress"] for m in live]
    assert overall == sorted(overall) and overall[-1] == 1.0
    finished = [m["stage"] for m in live if m["state"] == "finished"]
    assert "transcribe" in finished and finished[-1] == "mux"
    assert finished.index("transcribe") < finished.index("translate") < finished.index("synthesize")
    assert live[-1]["state"] == "completed" and live[-1]["status"] == "completed"
    for message in live:
        assert set(message) >= {"type", "job_id", "status", "stage", "fraction", "progress", "message"}
        assert 0.0 <= message["fraction"] <= 1.0


def test_a_socket_on_a_finished_job_sends_its_state_and_closes(
    live_server: LiveServer, done_job: dict[str, Any]
) -> None:
    messages, code = read_socket(ws_url(live_server.url, done_job["job"]["id"]))
    assert [m["type"] for m in messages] == ["progress", "final"] and code == 1000
    assert messages[1]["status"] == "completed"


def test_download_whole_and_by_ranges(
    live_server: LiveServer, done_job: dict[str, Any], tmp_path: Path
) -> None:
    client, job_id = live_server.client(), done_job["job"]["id"]
    whole = client.get(f"{API}/jobs/{job_id}/download")
    assert whole.status_code == 200
    body = whole.content
    size = len(body)
    assert size == done_job["job"]["output_size"]
    assert whole.headers["content-type"] == "video/mp4"
    assert whole.headers["accept-ranges"] == "bytes" and whole.headers["x-content-type-options"] == "nosniff"
    assert whole.headers["content-disposition"] == (
        "attachment; filename=\"talk.es.mp4\"; filename*=UTF-8''talk.es.mp4"
    )
    (tmp_path / "dub.mp4").write_bytes(body)
    info = probe(tmp_path / "dub.mp4")
    assert info.has_video and info.audio_streams

    part = client.get(f"{API}/jobs/{job_id}/download", headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.content == body[100:1100]
    assert (
        part.headers["content-range"] == f"bytes 100-1099/{size}" and part.headers["content-length"] == "1000"
    )
    tail = client.get(f"{API}/jobs/{job_id}/download", headers={"Range": "bytes=-500"})
    assert tail.status_code == 206 and tail.content == body[-500:]
    assert tail.headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"
    open_ended = client.get(f"{API}/jobs/{job_id}/download", headers={"Range": f"bytes={size - 10}-"})
    assert open_ended.status_code == 206 and open_ended.content == body[-10:]
    past = client.get(f"{API}/jobs/{job_id}/download", headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
    multi = client.get(f"{API}/jobs/{job_id}/download", headers={"Range": "bytes=0-1,5-6"})
    assert multi.status_code == 200 and len(multi.content) == size  # multi-range: the whole file


def test_preview_is_a_clip_of_the_range_asked(
    live_server: LiveServer, done_job: dict[str, Any], tmp_path: Path
) -> None:
    client, job_id = live_server.client(), done_job["job"]["id"]
    response = client.get(f"{API}/jobs/{job_id}/preview", params={"start": 1.0, "end": 3.0})
    assert response.status_code == 200 and response.headers["content-type"] == "video/mp4"
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(response.content)
    info = probe(clip, require_audio=False)
    # The cut starts at the keyframe at or before 1.0 s and ends at 3.0 s: 2 to 3 s long.
    assert info.duration == pytest.approx(2.5, abs=0.55)
    from_start = client.get(f"{API}/jobs/{job_id}/preview", params={"start": 0.0, "end": 2.0})
    clip.write_bytes(from_start.content)
    assert probe(clip, require_audio=False).duration == pytest.approx(2.0, abs=0.1)  # a keyframe at 0
    assert not list((live_server.settings.data_dir / "previews").iterdir())  # the clip's folder is gone
    for params in (
        {"start": 3, "end": 2},
        {"start": 0, "end": 61},
        {"start": 0, "end": 1000},
        {"start": 500},
    ):
        bad = client.get(f"{API}/jobs/{job_id}/preview", params=params)
        assert bad.status_code == 422, (params, bad.text)
        assert bad.headers["content-type"] == "application/problem+json"


def test_subtitles_and_project(live_server: LiveServer, done_job: dict[str, Any]) -> None:
    client, job_id = live_server.client(), done_job["job"]["id"]
    srt = client.get(f"{API}/jobs/{job_id}/subtitles.srt")
    assert srt.status_code == 200 and srt.headers["content-type"] == "text/plain; charset=utf-8"
    assert "-->" in srt.text and "THIS IS LINE NUMBER 0" in srt.text
    vtt = client.get(f"{API}/jobs/{job_id}/subtitles.vtt")
    assert vtt.status_code == 200 and vtt.headers["content-type"] == "text/vtt; charset=utf-8"
    assert vtt.text.startswith("WEBVTT")
    project = client.get(f"{API}/jobs/{job_id}/project")
    assert project.status_code == 200
    data = project.json()
    assert data["target_language"] == "es" and data["segments"] and "quality" in data


def test_results_of_an_unfinished_job_are_409(live_server: LiveServer, sample_video: SampleVideo) -> None:
    client = live_server.client()
    live_server.gate.close()
    try:
        job = upload_job(client, sample_video.path, "pt")
        for route in ("download", "preview", "subtitles.srt", "subtitles.vtt", "project"):
            response = client.get(f"{API}/jobs/{job['id']}/{route}")
            assert response.status_code == 409, route
            assert response.json()["code"] == "job_state"
    finally:
        live_server.gate.open()
    wait_finished(client, job["id"])


def test_cancel_a_running_job_removes_its_partial_files(
    live_server: LiveServer, sample_video: SampleVideo
) -> None:
    client = live_server.client()
    live_server.gate.close()
    try:
        job = upload_job(client, sample_video.path, "nl")
        assert live_server.gate.entered.wait(30)
        reader = SocketReader(ws_url(live_server.url, job["id"]))
        time.sleep(0.3)
        response = client.post(f"{API}/jobs/{job['id']}/cancel")
        assert response.status_code == 202 and response.json()["status"] == "processing"
    finally:
        live_server.gate.open()
    final = wait_finished(client, job["id"])
    messages, code = reader.result()
    assert final["status"] == "cancelled"
    assert messages[-1]["type"] == "final" and messages[-1]["status"] == "cancelled"
    assert code == 1000
    files = live_server.settings.data_dir / "files" / "local" / job["id"]
    assert sorted(p.name for p in files.iterdir()) == ["input"]  # no output folder
    assert not (live_server.settings.data_dir / "work" / job["id"]).exists()
    again = client.post(f"{API}/jobs/{job['id']}/cancel")
    assert again.status_code == 202 and again.json()["status"] == "cancelled"


def test_cancel_a_waiting_job_ends_its_socket(start_server: Any, sample_video: SampleVideo) -> None:
    server: LiveServer = start_server()
    client = server.client()
    server.gate.close()
    try:
        first = upload_job(client, sample_video.path, "es")  # holds the only worker
        assert server.gate.entered.wait(30)
        waiting = upload_job(client, sample_video.path, "de")
        reader = SocketReader(ws_url(server.url, waiting["id"]))
        time.sleep(0.3)
        response = client.post(f"{API}/jobs/{waiting['id']}/cancel")
        assert response.status_code == 202 and response.json()["status"] == "cancelled"
        messages, _code = reader.result(10)
        assert messages[-1] == {
            "type": "final", "job_id": waiting["id"], "status": "cancelled", "error_message": None,
            "progress": 0.0,
        }  # fmt: skip
    finally:
        server.gate.open()
    assert wait_finished(client, first["id"])["status"] == "completed"
    completed = client.post(f"{API}/jobs/{first['id']}/cancel")
    assert completed.status_code == 409 and completed.headers["content-type"] == "application/problem+json"


def test_jobs_are_listed_newest_first_with_paging(live_server: LiveServer, done_job: dict[str, Any]) -> None:
    client = live_server.client()
    everything = client.get(f"{API}/jobs", params={"limit": 1000}).json()
    assert everything["total"] == len(everything["jobs"]) >= 2
    created = [j["created_at"] for j in everything["jobs"]]
    assert created == sorted(created, reverse=True)
    page = client.get(f"{API}/jobs", params={"limit": 1, "offset": 1}).json()
    assert page["limit"] == 1 and page["offset"] == 1 and page["total"] == everything["total"]
    assert [j["id"] for j in page["jobs"]] == [everything["jobs"][1]["id"]]
    completed = client.get(f"{API}/jobs", params={"status": "completed"}).json()
    assert completed["jobs"] and all(j["status"] == "completed" for j in completed["jobs"])
    assert client.get(f"{API}/jobs", params={"status": "bogus"}).status_code == 422
    assert client.get(f"{API}/jobs", params={"limit": 0}).status_code == 422


def test_invalid_uploads_are_refused_with_problems_and_leave_nothing(
    live_server: LiveServer, sample_video: SampleVideo, tmp_path: Path
) -> None:
    client = live_server.client()
    before = client.get(f"{API}/jobs").json()["total"]
    files = live_server.settings.data_dir / "files"
    stored_before = sorted(files.rglob("*"))
    page = tmp_path / "page.html"
    page.write_text("<!doctype html><html><body>" + "hello " * 2000 + "</body></html>")
    cases: list[tuple[httpx.Response, int, str]] = [
        (upload(client, page, "es", filename="clip.mp4"), 415, "not_media"),
        (upload(client, sample_video.path, "xx"), 422, "unknown_language"),
        (upload(client, sample_video.path, "es", source_language="qq"), 422, "unknown_language"),
        (upload(client, sample_video.path, []), 422, "config_error"),
        (upload(client, sample_video.path, "en"), 422, "config_error"),
        (upload(client, sample_video.path, "es", transcriber="no-such-backend"), 422, "unknown_backend"),
        (client.post(f"{API}/upload", data={"target_language": "es"}), 422, "config_error"),
        (client.post(f"{API}/upload", content=b"x", headers={"content-type": "video/mp4"}), 422,
         "config_error"),
    ]  # fmt: skip
    for response, status, code in cases:
        assert response.status_code == status, response.text
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert (
            problem["status"] == status and problem["code"] == code and problem["title"] and problem["detail"]
        )
    unknown_language = cases[1][0].json()
    assert "es" in unknown_language["supported"] and "de" in unknown_language["supported"]
    assert client.get(f"{API}/jobs").json()["total"] == before
    assert sorted(files.rglob("*")) == stored_before
    assert not list(live_server.settings.upload_dir.iterdir())


def test_a_backend_chosen_at_upload_is_recorded(live_server: LiveServer, sample_video: SampleVideo) -> None:
    client = live_server.client()
    job = upload_job(client, sample_video.path, "sv", transcriber="regions", translator="shout")
    assert job["backends"] == {"transcriber": "regions", "translator": "shout"}
    wait_finished(client, job["id"])


def test_health_backends_and_languages(live_server: LiveServer) -> None:
    client = live_server.client()
    health = client.get(f"{API}/health")
    assert health.status_code == 200 and health.json()["status"] == "ok" and health.json()["version"]
    backends = client.get(f"{API}/backends").json()["backends"]
    names = {(b["stage"], b["name"]) for b in backends}
    assert ("transcriber", "regions") in names and ("translator", "apertium") in names
    assert all(set(b) >= {"stage", "name", "available", "extra"} for b in backends)
    offer = client.get(f"{API}/languages").json()
    assert {"code": "es", "name": "Spanish"} in offer["languages"]
    assert offer["sources"][0] == {"code": "auto", "name": "Detect automatically"}
    pairs = {(p["source"], p["target"]): p for p in offer["pairs"]}
    # The test server's stand-ins translate (shout) and voice (gated-voice: the sample sine voice) any pair.
    assert (pairs[("en", "es")]["translator"], pairs[("en", "es")]["synthesizer"]) == ("shout", "gated-voice")
    assert "en" in pairs[("auto", "es")]["sources"]
    assert offer["translator"] == "shout" and offer["voices"]["es"] == "gated-voice"


def test_a_pair_the_backends_cannot_dub_is_refused_before_any_work(
    live_server: LiveServer, sample_video: SampleVideo
) -> None:
    client = live_server.client()
    before = client.get(f"{API}/jobs").json()["total"]
    refused = upload(client, sample_video.path, "ja", source_language="en", translator="apertium")
    assert refused.status_code == 422, refused.text
    problem = refused.json()
    assert problem["code"] == "unsupported_language_pair" and problem["backend"] == "apertium"
    assert "es" in problem["reachable"] and "ja" not in problem["reachable"]
    assert "reachable targets" in problem["detail"]
    # A resumable upload is refused at creation, before a byte of the file is sent.
    created = create(client, 1000, source_language="en", target_language="ja", translator="apertium")
    assert created.status_code == 422 and created.json()["code"] == "unsupported_language_pair"
    assert client.get(f"{API}/jobs").json()["total"] == before
    assert not list(live_server.settings.upload_dir.iterdir())


def test_unknown_routes_and_methods_are_problems(live_server: LiveServer) -> None:
    client = live_server.client()
    missing = client.get(f"{API}/nope")
    assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"
    wrong = client.delete(f"{API}/health")
    assert wrong.status_code == 405 and wrong.json()["status"] == 405


def test_the_page_and_the_openapi_schema_are_served(live_server: LiveServer) -> None:
    client = live_server.client()
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    schema = client.get("/openapi.json").json()
    assert f"{API}/upload" in schema["paths"] and f"{API}/jobs/{{job_id}}/download" in schema["paths"]
    assert "multipart/form-data" in schema["paths"][f"{API}/upload"]["post"]["requestBody"]["content"]


def test_a_socket_that_leaves_early_unsubscribes(live_server: LiveServer, sample_video: SampleVideo) -> None:
    hub = live_server.app.state.services.events
    baseline = len(hub._subscribers)
    client = live_server.client()
    live_server.gate.close()
    try:
        job = upload_job(client, sample_video.path, "ca")
        with connect(ws_url(live_server.url, job["id"]), open_timeout=10) as socket:
            assert json.loads(socket.recv(timeout=10))["state"] == "snapshot"
            assert len(hub._subscribers) == baseline + 1
        deadline = time.monotonic() + 10
        while len(hub._subscribers) > baseline:
            assert time.monotonic() < deadline, "the socket's subscription outlived it"
            time.sleep(0.05)
    finally:
        live_server.gate.open()
    wait_finished(client, job["id"])


def test_trusted_hosts_and_cors_origins_are_enforced(start_server: Any) -> None:
    server: LiveServer = start_server(trusted_hosts=["127.0.0.1"], cors_origins=["https://app.example"])
    client = server.client()
    assert client.get(f"{API}/health").status_code == 200
    assert client.get(f"{API}/health", headers={"Host": "evil.example"}).status_code == 400
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-api-key"}
    allowed = client.options(f"{API}/upload", headers={"Origin": "https://app.example", **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    refused = client.options(f"{API}/upload", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in refused.headers


def test_the_page_and_its_files_carry_a_strict_content_security_policy(live_server: LiveServer) -> None:
    client = live_server.client()
    for path in ("/", "/static/app.js", "/static/style.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "object-src 'none'" in policy, path
        assert response.headers["x-content-type-options"] == "nosniff"
    docs = client.get("/docs")
    assert "content-security-policy" not in docs.headers  # its page loads scripts from a CDN


def test_a_backend_chosen_at_upload_is_the_one_that_dubs(
    live_server: LiveServer, sample_video: SampleVideo
) -> None:
    client = live_server.client()
    job = upload_job(client, sample_video.path, "es", synthesizer="espeak-ng")
    assert wait_finished(client, job["id"])["status"] == "completed"
    project = client.get(f"/api/v1/jobs/{job['id']}/project").json()
    assert project["backends"]["synthesizer"]["name"] == "espeak-ng"
    assert project["backends"]["translator"]["name"] == "shout"  # the server's own choice for the rest
