"""RunCheckpoints: a run directory mirrored to storage after each stage, and restored on another machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from dubkit.jobs.checkpoints import RunCheckpoints, checkpoint_prefix, discard_checkpoints
from dubkit.storage import FsspecStorage


class RecordingStorage(FsspecStorage):
    """Real storage that remembers the order of its uploads (and, like S3, is not on this disk)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.puts: list[str] = []

    def put_file(self, local_path: Path, key: str) -> int:
        self.puts.append(key)
        return super().put_file(local_path, key)

    def local_path(self, key: str) -> Path | None:
        return None


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    run = tmp_path / "machine-a" / "run"
    write(run / "stages" / "extract-k1" / "audio.wav", b"RIFF....")
    write(run / "stages" / "extract-k1" / "artifact.json", b'{"stage": "extract"}')
    write(run / "units" / "synthesize" / "c0ffee.wav", b"clip")
    write(run / "stages" / "vad-k2" / ".artifact.json.x1.tmp", b"half written")
    return run


def test_a_save_copies_each_new_file_once_with_commit_markers_last(tmp_path: Path, run_dir: Path) -> None:
    storage = RecordingStorage(str(tmp_path / "storage"))
    checkpoints = RunCheckpoints(storage, "alice", "job", run_dir)
    assert checkpoints.save() == 3
    prefix = checkpoint_prefix("alice", "job")
    assert storage.puts[-1] == prefix + "stages/extract-k1/artifact.json"
    assert sorted(storage.puts) == sorted(
        prefix + rel
        for rel in (
            "stages/extract-k1/audio.wav",
            "stages/extract-k1/artifact.json",
            "units/synthesize/c0ffee.wav",
        )
    )  # the temp file of an interrupted write is never copied
    assert checkpoints.save() == 0
    write(run_dir / "units" / "synthesize" / "c0ffee.wav", b"another clip")
    assert checkpoints.save() == 1


def test_a_restore_brings_back_what_the_other_machine_lacks(tmp_path: Path, run_dir: Path) -> None:
    storage = FsspecStorage(str(tmp_path / "storage"))
    RunCheckpoints(storage, "alice", "job", run_dir).save()
    elsewhere = tmp_path / "machine-b" / "run"
    write(elsewhere / "units" / "synthesize" / "c0ffee.wav", b"already here")
    checkpoints = RunCheckpoints(storage, "alice", "job", elsewhere)
    assert checkpoints.restore() == 2
    assert (elsewhere / "stages" / "extract-k1" / "artifact.json").read_bytes() == b'{"stage": "extract"}'
    assert (elsewhere / "units" / "synthesize" / "c0ffee.wav").read_bytes() == b"already here"  # kept
    assert not (elsewhere / "stages" / "vad-k2").exists()
    assert checkpoints.save() == 1  # only the file that differs from storage goes up again


def test_discarding_removes_only_that_jobs_checkpoints(tmp_path: Path, run_dir: Path) -> None:
    storage = FsspecStorage(str(tmp_path / "storage"))
    RunCheckpoints(storage, "alice", "job", run_dir).save()
    RunCheckpoints(storage, "alice", "other", run_dir).save()
    discard_checkpoints(storage, "alice", "job")
    assert storage.list("alice/job/run") == []
    assert len(storage.list("alice/other/run")) == 3
    discard_checkpoints(storage, "alice", "never-ran")  # nothing there: no error


def test_on_local_storage_the_mirror_shares_the_files_and_a_rewrite_does_not_reach_it(
    tmp_path: Path, run_dir: Path
) -> None:
    storage = FsspecStorage(str(tmp_path / "storage"))
    checkpoints = RunCheckpoints(storage, "alice", "job", run_dir)
    assert checkpoints.save() == 3
    clip = run_dir / "units" / "synthesize" / "c0ffee.wav"
    mirrored = storage.local_path(checkpoint_prefix("alice", "job") + "units/synthesize/c0ffee.wav")
    assert mirrored is not None and mirrored.samefile(clip)  # linked, not copied
    elsewhere = tmp_path / "machine-b" / "run"
    assert RunCheckpoints(storage, "alice", "job", elsewhere).restore() == 3
    assert (elsewhere / "units" / "synthesize" / "c0ffee.wav").samefile(clip)
    assert RunCheckpoints(storage, "alice", "job", run_dir).save() == 3  # a new attempt here links again
    mirror = storage.local_path(checkpoint_prefix("alice", "job").rstrip("/"))
    assert mirror is not None and not [p for p in mirror.rglob(".*")]  # and leaves no temp name behind
    rewritten = clip.with_name(".c0ffee.wav.tmp")  # a run writes a new file and renames it into place
    rewritten.write_bytes(b"another clip")
    rewritten.replace(clip)
    assert mirrored.read_bytes() == b"clip"  # the mirror keeps what was saved
    assert checkpoints.save() == 1
    assert mirrored.read_bytes() == b"another clip"
    partial = run_dir / "units" / "separate" / "voice.wav.part"  # a stem still being written: copied
    write(partial, b"RIFF partial")
    assert checkpoints.save() == 1
    copied = storage.local_path(checkpoint_prefix("alice", "job") + "units/separate/voice.wav.part")
    assert copied is not None and copied.read_bytes() == b"RIFF partial" and not copied.samefile(partial)
