"""Files moved into and out of storage as hard links where both are on this disk, else copied."""

from __future__ import annotations

from pathlib import Path

from dubkit.storage import FsspecStorage
from dubkit.storage.links import get_linked, put_linked


def test_local_storage_shares_the_file(tmp_path: Path) -> None:
    storage = FsspecStorage(str(tmp_path / "storage"))
    local = tmp_path / "run" / "clip.wav"
    local.parent.mkdir()
    local.write_bytes(b"clip")
    assert put_linked(storage, local, "alice/job/run/clip.wav") == 4
    stored = storage.local_path("alice/job/run/clip.wav")
    assert stored is not None and stored.samefile(local)
    assert put_linked(storage, local, "alice/job/run/clip.wav") == 4  # again: nothing to do, nothing left
    assert storage.list("alice") == ["alice/job/run/clip.wav"]
    assert sorted(p.name for p in stored.parent.iterdir()) == ["clip.wav"]
    back = tmp_path / "elsewhere" / "clip.wav"
    assert get_linked(storage, "alice/job/run/clip.wav", back) == 4
    assert back.samefile(local)


def test_other_storage_gets_a_copy(tmp_path: Path) -> None:
    storage = FsspecStorage("memory://links-test")
    local = tmp_path / "clip.wav"
    local.write_bytes(b"clip")
    assert put_linked(storage, local, "alice/job/clip.wav") == 4
    back = tmp_path / "back" / "clip.wav"
    assert get_linked(storage, "alice/job/clip.wav", back) == 4
    assert back.read_bytes() == b"clip" and not back.samefile(local)
    storage.delete("alice", recursive=True)
