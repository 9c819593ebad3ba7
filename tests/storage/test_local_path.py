"""`FsspecStorage.local_path`: the disk file of a key on local roots, nothing elsewhere."""

from __future__ import annotations

from pathlib import Path

import pytest

from dubkit.errors import StorageError
from dubkit.storage import FsspecStorage


def test_local_roots_give_the_file_that_holds_the_key(tmp_path: Path) -> None:
    storage = FsspecStorage(tmp_path.as_uri())
    with storage.open_write("alice/j1/output/a.mp4") as handle:
        handle.write(b"abc")
    path = storage.local_path("alice/j1/output/a.mp4")
    assert path is not None and path.read_bytes() == b"abc"
    assert path.resolve().is_relative_to(tmp_path.resolve())


def test_other_roots_have_no_local_file() -> None:
    assert FsspecStorage("memory://local-path-test").local_path("alice/j1/input") is None


def test_unsafe_keys_are_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        FsspecStorage(str(tmp_path)).local_path("alice/../../etc/passwd")
