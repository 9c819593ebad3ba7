"""Uploads at the edges: bodies over the cap (with and without Content-Length) and hostile file names."""

from __future__ import annotations

import select
import socket
import time
import unicodedata
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from dubkit.server.filenames import MAX_NAME
from dubkit.testing import SampleVideo

from .conftest import LiveServer
from .helpers import wait_finished

BOUNDARY = "dubkit-test-boundary"
MIB = 1024 * 1024


def part_header(filename: bytes) -> bytes:
    return (
        f"--{BOUNDARY}\r\n".encode()
        + b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: video/mp4\r\n\r\n'
    )


def field(name: str, value: str) -> bytes:
    return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()


def stream_body(url: str, total: int, *, chunked: bool) -> tuple[int, bytes, float]:
    """Send a multipart body of ``total`` bytes (zeros after the part header) over a raw socket, stopping as
    soon as the server answers; returns the bytes sent, the response and the seconds it took."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = (
        f"POST /api/v1/upload HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
        + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n")
        + "\r\n"
    )
    started = time.monotonic()
    sent, response = 0, b""
    chunk = b"\0" * (256 * 1024)
    pending = field("target_language", "es") + part_header(b"big.mp4")
    try:
        sock.sendall(head.encode())
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # the server answered: stop sending
            data, pending = pending + chunk, b""
            sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n" if chunked else data)
            sent += len(data)
    except (ConnectionResetError, BrokenPipeError):
        pass  # the server closed the connection after its answer, with our bytes unread
    try:
        sock.settimeout(10)
        while piece := sock.recv(65536):
            response += piece
    except ConnectionResetError:
        pass
    finally:
        sock.close()
    return sent, response, time.monotonic() - started


def leftovers(server: LiveServer) -> list[Path]:
    data = server.settings.data_dir
    return [
        p for p in (*data.joinpath("uploads").rglob("*"), *data.joinpath("files").rglob("*")) if p.is_file()
    ]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_300_mb_body_is_refused_before_its_end(live_server: LiveServer, chunked: bool) -> None:
    before = leftovers(live_server)
    total = 300 * MIB
    sent, response, _seconds = stream_body(live_server.url, total, chunked=chunked)
    status_line = response.split(b"\r\n", 1)[0]
    assert status_line == b"HTTP/1.1 413 Request Entity Too Large", response[:200]
    assert b'"code":"upload_too_large"' in response
    limit = live_server.settings.max_upload_bytes
    if chunked:
        assert sent < limit + 64 * MIB  # read up to the cap, then refused: the last 100 MB never went
    else:
        assert sent < 32 * MIB  # refused on the Content-Length alone
    assert leftovers(live_server) == before
    jobs = live_server.client().get("/api/v1/jobs", params={"limit": 1000}).json()["jobs"]
    assert all(j["original_filename"] != "big.mp4" for j in jobs)


HOSTILE_NAMES: list[bytes] = [
    b"../../../../etc/passwd.mp4",
    b"..\\..\\windows\\system32\\talk.mp4",
    b"nul\x00byte\x07bell.mp4",
    b"cr%0D%0Alf\r\n\tX-Injected: yes.mp4",
    ("x" * 1000 + ".mp4").encode(),
    "r\u00e9sum\u00e9 \U0001f3ac \u0432\u0438\u0434\u0435\u043e.mp4".encode(),
    b"..",
    b"",
]


def upload_raw(server: LiveServer, filename: bytes, video: bytes) -> Any:
    body = field("target_language", "es") + field("source_language", "en") + part_header(filename) + video
    body += f"\r\n--{BOUNDARY}--\r\n".encode()
    return server.client().post(
        "/api/v1/upload",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )


def no_crlf_in_headers(response: Any) -> None:
    for name, value in response.headers.raw:
        assert b"\r" not in name + value and b"\n" not in name + value


def test_hostile_file_names_stay_display_only(live_server: LiveServer, sample_video: SampleVideo) -> None:
    video = sample_video.path.read_bytes()
    files = live_server.settings.data_dir / "files"
    jobs = []
    for raw in HOSTILE_NAMES:
        response = upload_raw(live_server, raw, video)
        no_crlf_in_headers(response)
        if response.status_code != 201:
            assert response.status_code == 422, response.text  # a header the multipart parser refuses
            continue
        job = response.json()["jobs"][0]
        name = job["original_filename"]
        assert (
            name
            and len(name) <= MAX_NAME
            and "/" not in name
            and "\\" not in name
            and name not in (".", "..")
        )
        assert not any(unicodedata.category(ch)[0] == "C" for ch in name)
        stored = [p for p in files.rglob("*") if p.is_file() and job["id"] in p.parts]
        assert stored == [files / "local" / job["id"] / "input"]
        jobs.append((raw, job))
    assert len(jobs) >= 6
    names = {raw: job["original_filename"] for raw, job in jobs}
    assert names[b"../../../../etc/passwd.mp4"] == "passwd.mp4"
    assert names[b"..\\..\\windows\\system32\\talk.mp4"] == "talk.mp4"
    assert names[b"nul\x00byte\x07bell.mp4"] == "nulbytebell.mp4"
    assert names[("x" * 1000 + ".mp4").encode()] == "x" * (MAX_NAME - 4) + ".mp4"
    unicode_name = "r\u00e9sum\u00e9 \U0001f3ac \u0432\u0438\u0434\u0435\u043e.mp4"
    assert names[unicode_name.encode()] == unicode_name
    assert names[b""] == "upload"

    client = live_server.client()
    downloaded = (
        b"cr%0D%0Alf\r\n\tX-Injected: yes.mp4",
        ("x" * 1000 + ".mp4").encode(),
        unicode_name.encode(),
    )
    for raw, job in jobs:
        if raw not in downloaded:  # its name was checked above; no need to dub it
            client.post(f"/api/v1/jobs/{job['id']}/cancel")
    for raw, job in jobs:
        if raw not in downloaded:
            continue
        assert wait_finished(client, job["id"])["status"] == "completed"
        response = client.get(f"/api/v1/jobs/{job['id']}/download", headers={"Range": "bytes=0-9"})
        assert response.status_code == 206
        no_crlf_in_headers(response)
        disposition = response.headers["content-disposition"]
        stem = job["original_filename"].rsplit(".", 1)[0] if "." in job["original_filename"] else "upload"
        expected = f"{stem}.es.mp4"
        assert disposition.endswith("filename*=UTF-8''" + quote(expected, safe=""))
        fallback = disposition.split('filename="', 1)[1].split('"', 1)[0]
        assert fallback.isascii() and fallback.endswith(".es.mp4") and "\\" not in fallback
        if raw == unicode_name.encode():
            assert fallback == "resume  .es.mp4"  # accents folded, the rest dropped


def test_a_client_that_leaves_mid_upload_leaves_nothing_behind(live_server: LiveServer) -> None:
    before = leftovers(live_server)
    host, port = live_server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(
            (
                f"POST /api/v1/upload HTTP/1.1\r\nHost: {host}\r\nContent-Length: {10 * MIB}\r\n"
                f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n\r\n"
            ).encode()
            + field("target_language", "es")
            + part_header(b"gone.mp4")
            + b"\0" * (3 * MIB)
        )
        deadline = time.monotonic() + 10
        while not list(live_server.settings.upload_dir.glob(".upload-*")):
            assert time.monotonic() < deadline, "the upload never reached its staging file"
            time.sleep(0.02)
    deadline = time.monotonic() + 10
    while list(live_server.settings.upload_dir.glob(".upload-*")):
        assert time.monotonic() < deadline, "the staging file outlived its upload"
        time.sleep(0.05)
    assert leftovers(live_server) == before
