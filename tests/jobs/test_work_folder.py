"""A worker's work folder: locked to one live process, swept of everything no held job owns."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dubkit.errors import ConfigError, StorageError
from dubkit.jobs.work_folder import LOCK_NAME, WorkFolder

HOLDER = """
import sys, time
from dubkit.jobs.work_folder import WorkFolder
folder = WorkFolder(sys.argv[1]).acquire()
print("locked", flush=True)
time.sleep(60)
"""


def test_a_sweep_removes_everything_but_the_held_jobs_and_the_lock(tmp_path: Path) -> None:
    folder = WorkFolder(tmp_path / "work").acquire()
    (tmp_path / "work" / "old-job" / "run").mkdir(parents=True)
    (tmp_path / "work" / "old-job" / "run" / "big.wav").write_bytes(b"x" * 1000)
    (tmp_path / "work" / "stray.tmp").write_text("left by a crash")
    with folder.hold("running") as path:
        (path / "input").mkdir(parents=True)
        (path / "input" / "talk.mp4").write_bytes(b"y")
        assert folder.sweep() == 2  # the old job's folder and the stray file
        assert sorted(p.name for p in (tmp_path / "work").iterdir()) == [LOCK_NAME, "running"]
        assert folder.held == frozenset({"running"})
    # the job ended: its folder went with the sweep that follows every job
    assert [p.name for p in (tmp_path / "work").iterdir()] == [LOCK_NAME]
    assert folder.held == frozenset()
    folder.release()


def test_a_job_held_twice_keeps_its_folder_until_both_end(tmp_path: Path) -> None:
    folder = WorkFolder(tmp_path / "work").acquire()
    first = folder.hold("job")
    path = first.__enter__()
    with folder.hold("job"):
        path.mkdir()
    assert path.is_dir()  # still held by the first
    first.__exit__(None, None, None)
    assert not path.exists()
    folder.release()


def test_sweeps_from_many_threads_never_touch_a_held_job(tmp_path: Path) -> None:
    folder = WorkFolder(tmp_path / "work").acquire()
    failures: list[str] = []

    def work(name: str) -> None:
        for i in range(30):
            with folder.hold(f"{name}-{i}") as path:
                path.mkdir()
                (path / "file").write_text("data")
                if not (path / "file").is_file():
                    failures.append(f"{name}-{i}")

    threads = [threading.Thread(target=work, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert [p.name for p in (tmp_path / "work").iterdir()] == [LOCK_NAME]
    folder.release()


def test_a_folder_held_by_another_live_worker_is_refused_and_taken_over_once_it_died(tmp_path: Path) -> None:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path / "work")], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == b"locked"
        with pytest.raises(ConfigError) as refused:
            WorkFolder(tmp_path / "work").acquire()
        assert f"in use by another live worker (pid {holder.pid})" in str(refused.value)
        assert refused.value.hint is not None and "its own data folder" in refused.value.hint
    finally:
        holder.kill()
        holder.wait()
        if holder.stdout is not None:
            holder.stdout.close()
    folder = WorkFolder(tmp_path / "work").acquire()  # the dead worker's lock went with it
    folder.release()


def test_an_unwritable_folder_and_an_unsafe_job_id_are_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ConfigError, match="cannot write to the work folder"):
        WorkFolder(tmp_path / "file" / "work").acquire()
    folder = WorkFolder(tmp_path / "work")
    with pytest.raises(StorageError):
        folder.hold("../escape")
