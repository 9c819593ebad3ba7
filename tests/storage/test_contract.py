"""One contract, run against local disk, memory:// and a real S3 endpoint (moto server)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from dubkit.errors import StorageError
from dubkit.storage import FsspecStorage, Storage, job_key, job_prefix

MB = 1024 * 1024


def test_is_a_storage(storage: FsspecStorage) -> None:
    assert isinstance(storage, Storage)


def test_streamed_write_of_a_multi_megabyte_object(storage: FsspecStorage) -> None:
    key = job_key("alice", "j1", "input")
    digest = hashlib.sha256()
    chunk = os.urandom(MB)
    with storage.open_write(key) as out:
        for i in range(12):  # 12 MiB in 1 MiB chunks: several S3 multipart parts
            piece = bytes([i]) + chunk[1:]
            out.write(piece)
            digest.update(piece)
    assert storage.exists(key)
    assert storage.size(key) == 12 * MB
    read = hashlib.sha256()
    with storage.open_read(key) as src:
        while block := src.read(MB):
            read.update(block)
    assert read.hexdigest() == digest.hexdigest()


def test_a_failed_write_leaves_nothing(storage: FsspecStorage) -> None:
    key = job_key("alice", "j1", "output.mp4")

    class Boom(Exception):
        pass

    def write_then_crash() -> None:
        with storage.open_write(key) as out:
            out.write(b"x" * (9 * MB))  # past one S3 part: a multipart upload is under way
            raise Boom

    with pytest.raises(Boom):
        write_then_crash()
    assert not storage.exists(key)
    assert storage.list("alice/") == []


def test_overwrite_replaces_whole(storage: FsspecStorage) -> None:
    key = "alice/j1/result.json"
    with storage.open_write(key) as out:
        out.write(b"first version, longer")
    with storage.open_write(key) as out:
        out.write(b"second")
    with storage.open_read(key) as src:
        assert src.read() == b"second"


def test_put_and_get_file(storage: FsspecStorage, tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(3 * MB + 17))
    assert storage.put_file(source, "bob/j2/input") == 3 * MB + 17
    target = tmp_path / "down" / "out.bin"
    assert storage.get_file("bob/j2/input", target) == 3 * MB + 17
    assert target.read_bytes() == source.read_bytes()
    assert [p.name for p in target.parent.iterdir()] == ["out.bin"]  # no temp file left
    with pytest.raises(StorageError):
        storage.put_file(tmp_path / "missing.bin", "bob/j2/other")


def test_list_and_recursive_delete_of_a_job_folder(storage: FsspecStorage) -> None:
    for name in ("input", "output.mp4", "stages/transcript.json"):
        with storage.open_write(job_prefix("alice", "j1") + name) as out:
            out.write(name.encode())
    with storage.open_write("alice/j2/input") as out:
        out.write(b"other job")
    assert storage.list(job_prefix("alice", "j1")) == [
        "alice/j1/input",
        "alice/j1/output.mp4",
        "alice/j1/stages/transcript.json",
    ]
    assert "alice/j2/input" in storage.list()
    storage.delete(job_prefix("alice", "j1"), recursive=True)
    assert storage.list("alice/j1/") == []
    assert not storage.exists("alice/j1/input")
    assert storage.list("alice/") == ["alice/j2/input"]
    storage.delete("alice/j2/input")
    storage.delete("alice/j2/input")  # missing: not an error
    assert not storage.exists("alice/j2/input")


def test_missing_objects_are_storage_errors(storage: FsspecStorage) -> None:
    with pytest.raises(StorageError) as info:
        storage.size("nobody/none/input")
    assert info.value.url is not None
    assert info.value.url.endswith("nobody/none/input")
    assert isinstance(info.value.__cause__, Exception)
    with pytest.raises(StorageError), storage.open_read("nobody/none/input"):
        pass


@pytest.mark.parametrize(
    "key",
    ["../etc/passwd", "alice/../../x", "/abs/key", "alice//x", "alice/./x", "alice/j\x00/in", "a/b\nc", ""],
)
def test_traversal_and_control_characters_are_rejected(storage: FsspecStorage, key: str) -> None:
    with pytest.raises(StorageError, match=r"unsafe|relative"):
        storage.exists(key)
    with pytest.raises(StorageError), storage.open_write(key):
        pass
