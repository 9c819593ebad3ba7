from __future__ import annotations

import pytest

from dubkit.errors import StorageError
from dubkit.storage import job_key, job_prefix, validate_key


def test_job_prefix() -> None:
    assert job_prefix("alice", "0f3c9a") == "alice/0f3c9a/"
    assert job_key("alice", "0f3c9a", "input") == "alice/0f3c9a/input"


@pytest.mark.parametrize(
    ("owner", "job_id"),
    [
        ("", "j"),
        ("a", ""),
        ("..", "j"),
        (".", "j"),
        ("a/b", "j"),
        ("a", "j\\k"),
        ("a\x1b", "j"),
        ("a", "j\u202e"),
        ("a", "x" * 256),
    ],
)
def test_job_prefix_rejects_unsafe_parts(owner: str, job_id: str) -> None:
    with pytest.raises(StorageError, match="unsafe"):
        job_prefix(owner, job_id)


def test_validate_key() -> None:
    assert validate_key("a/b/c.mp4") == "a/b/c.mp4"
    with pytest.raises(StorageError):
        validate_key("a/b/")
