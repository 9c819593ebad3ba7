"""A minimal tus client for the server tests: create, patch, head; and a PATCH cut off mid-body."""

from __future__ import annotations

import base64
import socket
import time
from typing import Any

import httpx

UPLOADS = "/api/v1/uploads"
TUS = {"Tus-Resumable": "1.0.0"}
CHUNK_TYPE = "application/offset+octet-stream"


def metadata(**fields: str) -> str:
    return ",".join(f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in fields.items())


def create(client: httpx.Client, length: int, **fields: str) -> httpx.Response:
    fields = {"filename": "talk.mp4", "source_language": "en", "target_language": "es", **fields}
    headers = {**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(**fields)}
    return client.post(UPLOADS, headers=headers)


def create_url(client: httpx.Client, length: int, **fields: str) -> str:
    response = create(client, length, **fields)
    assert response.status_code == 201, response.text
    location = response.headers["location"]
    assert location.startswith(UPLOADS + "/")
    return location


def patch(client: httpx.Client, url: str, offset: int, data: Any, **headers: str) -> httpx.Response:
    sent = {**TUS, "Upload-Offset": str(offset), "Content-Type": CHUNK_TYPE, **headers}
    return client.patch(url, content=data, headers=sent)


def offset_of(client: httpx.Client, url: str) -> int:
    response = client.head(url, headers=TUS)
    assert response.status_code == 200, response.status_code
    assert response.headers["cache-control"] == "no-store"
    return int(response.headers["upload-offset"])


def patch_retrying(
    client: httpx.Client, url: str, offset: int, data: bytes, timeout: float = 30
) -> httpx.Response:
    """PATCH, retrying while another request still holds the upload (423), as a client resuming does."""
    deadline = time.monotonic() + timeout
    while True:
        response = patch(client, url, offset, data)
        if response.status_code != 423:
            return response
        assert time.monotonic() < deadline, "the upload stayed busy"
        time.sleep(0.05)


def open_cut_patch(base_url: str, url: str, offset: int, declared: int, data: bytes) -> socket.socket:
    """Start a PATCH announcing ``declared`` bytes but sending only ``data``; the caller closes the socket."""
    host, port = base_url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.sendall(
        (
            f"PATCH {url} HTTP/1.1\r\nHost: {host}\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n"
            f"Content-Type: {CHUNK_TYPE}\r\nContent-Length: {declared}\r\n\r\n"
        ).encode()
        + data
    )
    return sock


def wait_offset(client: httpx.Client, url: str, at_least: int, timeout: float = 30) -> int:
    """Poll HEAD until the upload's offset reaches ``at_least``."""
    deadline = time.monotonic() + timeout
    while (offset := offset_of(client, url)) < at_least:
        assert time.monotonic() < deadline, f"the upload stayed at {offset}"
        time.sleep(0.02)
    return offset
