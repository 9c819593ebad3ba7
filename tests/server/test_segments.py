"""The line editor's API on a live server: list a dub's lines, change one, re-dub, listen to a line.

The stand-in backends (fast_backends.py) dub the generated talk in a second or two; the re-dub runs on the
server's in-process runner as a job step, with its progress on the job's WebSocket.
"""

from __future__ import annotations

import io
import wave
from typing import Any

import httpx
import pytest

from dubkit.testing import SampleVideo

from .conftest import LiveServer
from .fast_backends import HOLD
from .helpers import SocketReader, upload_job, wait_finished, ws_url

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def client(live_server: LiveServer) -> httpx.Client:
    return live_server.client()


@pytest.fixture(scope="module")
def done_job(client: httpx.Client, sample_video: SampleVideo) -> dict[str, Any]:
    job = upload_job(client, sample_video.path, "es")
    finished = wait_finished(client, job["id"])
    assert finished["status"] == "completed", finished
    return finished


def lines(client: httpx.Client, job_id: str) -> tuple[dict[str, Any], str]:
    response = client.get(f"/api/v1/jobs/{job_id}/segments")
    assert response.status_code == 200, response.text
    return response.json(), response.headers["etag"]


def patch(
    client: httpx.Client, job_id: str, segment_id: str, etag: str | None, **body: Any
) -> httpx.Response:
    headers = {} if etag is None else {"If-Match": etag}
    return client.patch(f"/api/v1/jobs/{job_id}/segments/{segment_id}", json=body, headers=headers)


def assert_problem(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    for word in words:
        assert word in body["detail"], body
    return body


def test_lines_carry_what_the_project_says(client: httpx.Client, done_job: dict[str, Any]) -> None:
    body, etag = lines(client, done_job["id"])
    project = client.get(done_job["links"]["project"]).json()
    assert etag.startswith('"') and etag.endswith('"')
    assert body["result_version"] == 1 and body["target_language"] == "es"
    assert [line["id"] for line in body["segments"]] == [s["id"] for s in project["segments"]]
    first, source = body["segments"][0], project["segments"][0]
    assert first["source_text"] == source["source_text"]
    assert first["translation"] == source["translation"]
    assert first["speaker"] == source["speaker"]
    assert first["quality"]["flags"] == source["quality"]["flags"]
    assert first["sentence"] == source["sentence"]
    assert first["pending"] == [] and body["pending_segments"] == []
    assert {v["id"] for v in body["voices"]} == {"es-low", "es-high"}  # the stand-in voice's list
    assert body["speakers"][0]["voice"] in {"es-low", "es-high"}
    assert lines(client, done_job["id"])[1] == etag  # nothing changed: the same ETag


def test_a_line_is_heard_from_the_input_and_from_the_dub(
    client: httpx.Client, done_job: dict[str, Any]
) -> None:
    body, _ = lines(client, done_job["id"])
    line = body["segments"][0]
    for track in ("source", "dub"):
        response = client.get(line["audio"][track])
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "audio/wav"
        with wave.open(io.BytesIO(response.content)) as wav:
            seconds = wav.getnframes() / wav.getframerate()
            assert wav.getnchannels() == 1 and wav.getframerate() <= 24000
        assert seconds == pytest.approx(line["end"] - line["start"] + 0.2 + min(0.2, line["start"]), abs=0.6)
    assert_problem(client.get(line["audio"]["dub"].replace("track=dub", "track=video")), 422)


def test_refused_changes_change_nothing(client: httpx.Client, done_job: dict[str, Any]) -> None:
    job_id = done_job["id"]
    body, etag = lines(client, job_id)
    line = body["segments"][0]["id"]
    assert_problem(patch(client, job_id, line, None, translation="HOLA"), 428, "If-Match")
    stale = assert_problem(patch(client, job_id, line, '"0123"', translation="HOLA"), 412, "ETag")
    assert stale["code"] == "stale_etag"
    assert_problem(patch(client, job_id, "no-such-line", etag, translation="HOLA"), 404, "no-such-line")
    too_long = assert_problem(patch(client, job_id, line, etag, translation="A" * 501), 422, "501", "500")
    assert too_long["field"] == "translation"
    control = assert_problem(patch(client, job_id, line, etag, translation="HOLA\u0007 MUNDO"), 422, "U+0007")
    assert control["field"] == "translation"
    bidi = assert_problem(patch(client, job_id, line, etag, translation="HOLA \u202e MUNDO"), 422, "U+202E")
    assert bidi["field"] == "translation"
    voice = assert_problem(patch(client, job_id, line, etag, voice="es+m3"), 422, "es+m3")
    assert "es-low" in voice["hint"]
    assert_problem(patch(client, job_id, line, etag), 422, "empty")
    assert patch(client, job_id, line, etag, colour="red").status_code == 422  # unknown fields refused
    url = f"/api/v1/jobs/{job_id}/segments/{line}"
    for raw, status in ((b'{"translation": "HOLA', 422), (b"Z\xff?", 400)):  # not JSON; not even UTF-8
        sent = client.patch(url, content=raw, headers={"If-Match": etag, "Content-Type": "application/json"})
        assert_problem(sent, status)
    again, same = lines(client, job_id)
    assert same == etag and again == body
    assert_problem(client.post(f"/api/v1/jobs/{job_id}/redub"), 409, "nothing to re-dub")


def test_edit_then_redub_makes_the_next_version(
    live_server: LiveServer, client: httpx.Client, sample_video: SampleVideo
) -> None:
    job = wait_finished(client, upload_job(client, sample_video.path, "es")["id"])
    job_id = job["id"]
    body, etag = lines(client, job_id)
    first, second = body["segments"][0], body["segments"][1]
    before = client.get(job["links"]["download"]).content

    text = f"UNA LÍNEA CORREGIDA {HOLD}"  # the re-dub waits at the voice gate while it voices this line
    edited = patch(client, job_id, first["id"], etag, translation=f"  {text}  ")
    assert edited.status_code == 200, edited.text
    new_etag = edited.headers["etag"]
    assert new_etag != etag
    row = edited.json()["segments"][0]
    assert row["translation"] == text and row["pending"] == ["translation"] and row["edited"]
    assert edited.json()["pending_segments"] == [first["id"]]
    # Another tab still holding the first ETag cannot overwrite the change.
    assert_problem(patch(client, job_id, second["id"], etag, translation="OTRA"), 412)
    voice = "es-high" if first["voice"] == "es-low" else "es-low"
    voiced = patch(client, job_id, second["id"], new_etag, voice=voice, keep_original=True)
    assert voiced.status_code == 200, voiced.text
    speaker_lines = [s["id"] for s in body["segments"] if s["speaker"] == second["speaker"]]
    assert set(voiced.json()["pending_segments"]) == {first["id"], *speaker_lines}

    live_server.voice_gate.close()
    try:
        queued = client.post(f"/api/v1/jobs/{job_id}/redub")
        assert queued.status_code == 202, queued.text
        assert queued.json()["result_version"] == 1  # the last result stays until the new one replaces it
        assert live_server.voice_gate.entered.wait(30), "the re-dub never voiced the edited line"
        reader = SocketReader(
            ws_url(live_server.url, job_id)
        )  # the progress of the re-dub, on the same socket
        assert client.get(job["links"]["download"]).content == before  # the last result, while it runs
    finally:
        live_server.voice_gate.open()
    messages, code = reader.result()
    assert code == 1000 and messages[-1]["type"] == "final" and messages[-1]["status"] == "completed"
    assert messages[0]["status"] == "processing"
    stages = {m["stage"] for m in messages if m["type"] == "progress" and m.get("state") == "finished"}
    assert {"synthesize", "fit", "mix", "mux"} <= stages

    done = wait_finished(client, job_id)
    assert done["status"] == "completed" and done["result_version"] == 2 and done["error_message"] is None
    after, _ = lines(client, job_id)
    assert after["result_version"] == 2 and after["pending_segments"] == []
    changed = after["segments"][0]
    assert changed["translation"] == text and changed["edited"] and changed["pending"] == []
    assert after["segments"][1]["keep_original"] is True
    assert after["segments"][1]["voice"] == voice
    assert after["segments"][2]["translation"] == body["segments"][2]["translation"]
    download = client.get(done["links"]["download"])
    assert download.status_code == 200 and download.content != before
    project = client.get(done["links"]["project"]).json()
    assert project["segments"][0]["translation"] == text
    assert project["segments"][1]["keep_original"] is True
    seconds = project["quality"]["stage_seconds"]
    assert seconds["transcribe"] == seconds["vad"] == 0.0  # cached: only what the edits touch is redone


def test_a_redub_can_be_cancelled_and_the_last_result_stays(
    live_server: LiveServer, client: httpx.Client, done_job: dict[str, Any]
) -> None:
    job_id = done_job["id"]
    body, etag = lines(client, job_id)
    line = body["segments"][-1]
    assert patch(client, job_id, line["id"], etag, translation=f"ESPERA {HOLD}").status_code == 200
    live_server.voice_gate.close()
    try:
        assert client.post(f"/api/v1/jobs/{job_id}/redub").status_code == 202
        assert live_server.voice_gate.entered.wait(30), "the re-dub never voiced the edited line"
        running = client.get(f"/api/v1/jobs/{job_id}").json()
        assert running["status"] == "processing" and running["result_version"] == 1
        assert client.get(running["links"]["download"]).status_code == 200  # still downloadable
        assert_problem(patch(client, job_id, line["id"], etag, translation="NO"), 409, "re-dub")
        assert client.post(f"/api/v1/jobs/{job_id}/cancel").status_code == 202
    finally:
        live_server.voice_gate.open()
    done = wait_finished(client, job_id)
    assert done["status"] == "completed" and done["result_version"] == 1
    assert "cancelled" in (done["error_message"] or "")
    assert client.get(done["links"]["download"]).status_code == 200
    after, _ = lines(client, job_id)
    assert after["pending_segments"] == [line["id"]]  # the change is still there, to re-dub later


def test_a_job_without_a_result_has_no_lines_to_change(
    live_server: LiveServer, client: httpx.Client, sample_video: SampleVideo
) -> None:
    live_server.gate.close()  # the dub waits in transcribe
    try:
        job = upload_job(client, sample_video.path, "es")
        assert live_server.gate.entered.wait(30)
        assert_problem(client.get(job["links"]["segments"]), 409, "completed")
        refused = patch(client, job["id"], "seg-0001", '"x"', translation="HOLA")
        assert_problem(refused, 409, "completed")
        assert_problem(client.post(job["links"]["redub"]), 409, "completed")
        assert_problem(client.get(f"{job['links']['segments']}/seg-0001/audio"), 409)
    finally:
        live_server.gate.open()
    assert wait_finished(client, job["id"])["status"] == "completed"
    assert client.get(job["links"]["segments"]).json()["pending_segments"] == []  # nothing was kept
