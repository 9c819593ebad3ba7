"""Errors map to HTTP statuses through the DubkitError tree, as problem details without server paths."""

from __future__ import annotations

import json

import pytest

from dubkit.errors import (
    BackendRuntimeError,
    CancelledError,
    ConfigError,
    CorruptMediaError,
    DubkitError,
    FFmpegNotFoundError,
    JobError,
    JobNotFoundError,
    JobStateError,
    MediaLimitError,
    NotMediaError,
    StorageError,
    UnknownBackendError,
    UnknownLanguageError,
    UploadTooLargeError,
)
from dubkit.server.problems import PROBLEM_JSON, dubkit_problem, status_of


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (JobNotFoundError("j1"), 404),
        (JobStateError("j1", "processing", "not yet"), 409),
        (JobError("already completed"), 409),
        (CancelledError(), 409),
        (UploadTooLargeError(300, 200), 413),
        (NotMediaError("no", path="/srv/x"), 415),
        (CorruptMediaError("bad"), 415),
        (MediaLimitError("duration", 2.0, 1.0), 422),
        (ConfigError("bad"), 422),
        (UnknownLanguageError("xx", ["es"]), 422),
        (UnknownBackendError("translator", "x", ["apertium"]), 422),
        (FFmpegNotFoundError("ffprobe"), 503),
        (BackendRuntimeError("boom", kind="translator", name="x"), 500),
        (StorageError("disk on fire", url="file:///srv/secret"), 500),
        (DubkitError("?"), 500),
    ],
)
def test_statuses(error: DubkitError, status: int) -> None:
    assert status_of(error) == status


def test_a_problem_carries_the_error_fields_but_no_server_path() -> None:
    response = dubkit_problem(NotMediaError("not a media file", path="/srv/dubkit/uploads/x.part"))
    body = json.loads(bytes(response.body))
    assert response.status_code == 415 and response.media_type == PROBLEM_JSON
    assert body["status"] == 415 and body["code"] == "not_media" and body["title"] == "Unsupported Media Type"
    assert "/srv" not in json.dumps(body)


def test_server_failures_do_not_leak_their_message() -> None:
    body = json.loads(bytes(dubkit_problem(StorageError("cannot read /srv/secret", url="file:///srv")).body))
    assert body["status"] == 500 and "/srv" not in json.dumps(body)


def test_a_refused_upload_closes_its_connection() -> None:
    response = dubkit_problem(UploadTooLargeError(300, 200))
    assert response.headers["connection"] == "close"
