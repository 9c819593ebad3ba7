"""`dubkit worker` works through a real job store and storage, or a real Redis broker, as a user runs it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from local_services import redis_server
from typer.testing import CliRunner

from dubkit.cli import app
from dubkit.jobs import JobStore
from dubkit.models.job import JobStatus
from dubkit.storage import FsspecStorage, job_key
from dubkit.testing import make_sample_video

STANDIN_CONFIG = {
    "vad": "energy",
    "diarizer": "single",
    "transcriber": "standin-regions",
    "translator": "shout",
    "synthesizer": "sine-voice",
}


@pytest.mark.models
def test_worker_dubs_queued_jobs_until_idle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBKIT_DATA_DIR", str(tmp_path / "data"))
    storage_url = (tmp_path / "files").as_uri()
    storage = FsspecStorage(storage_url)
    sample = make_sample_video(tmp_path / "talk.mp4", script=(("en+m3", "Good morning and welcome."),))
    key = job_key("alice", "job1", "input")
    size = storage.put_file(sample.path, key)
    db = tmp_path / "jobs.db"
    with JobStore(db) as store:
        store.create(
            {
                "id": "job1",
                "user_id": "alice",
                "original_filename": "talk.mp4",
                "source_language": "en",
                "target_language": "es",
                "input_path": key,
                "input_size": size,
            }
        )
    config = tmp_path / "pipeline.json"
    config.write_text(
        json.dumps(
            {"vad": "energy", "diarizer": "single", "translator": "shout", "synthesizer": "sine-voice"}
        )
    )
    result = CliRunner().invoke(
        app, ["worker", "--db", str(db), "--storage", storage_url, "--config", str(config), "--until-idle"]
    )
    assert result.exit_code == 0, result.stderr
    assert "completed: 1" in result.stdout
    with JobStore(db) as store:
        job = store.get("job1")
    assert job.status is JobStatus.COMPLETED
    assert job.output_path is not None
    assert storage.exists(job.output_path)


def test_worker_rejects_a_bad_config(tmp_path: Path) -> None:
    config = tmp_path / "pipeline.json"
    config.write_text(json.dumps({"translator": "babelfish"}))
    result = CliRunner().invoke(
        app,
        [
            "worker",
            "--db",
            str(tmp_path / "j.db"),
            "--storage",
            (tmp_path / "f").as_uri(),
            "--config",
            str(config),
            "--until-idle",
        ],
    )
    assert result.exit_code == 2
    assert "no translator named 'babelfish'" in result.stderr


def test_worker_with_a_broker_dubs_jobs_from_redis_and_stops_on_sigterm(tmp_path: Path) -> None:
    from dubkit.jobs.distributed import DistributedRunner, make_broker
    from dubkit.jobs.redis_events import EventApplier

    storage = FsspecStorage((tmp_path / "files").as_uri())
    sample = make_sample_video(tmp_path / "talk.mp4", script=(("en+m3", "Good morning and welcome."),))
    config = tmp_path / "pipeline.json"
    config.write_text(json.dumps(STANDIN_CONFIG))
    (tmp_path / "redis").mkdir()
    with redis_server(tmp_path / "redis") as url, JobStore(tmp_path / "jobs.db") as store:
        worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "dubkit"),
                "-v",
                "worker",
                "--broker",
                url,
                "--config",
                str(config),
                "--workers",
                "2",
                "--model-memory-budget",
                "1GB",
            ],
            env={**os.environ, "DUBKIT_DATA_DIR": str(tmp_path / "data")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert worker.stdout is not None
            assert "worker ready: 2 thread(s)" in worker.stdout.readline()
            broker = make_broker(url)
            runner = DistributedRunner(store, broker, storage.url)
            applier = EventApplier(store, url, storage=storage)
            choices = {"job-a": {}, "job-b": {"transcriber": "standin-regions-b"}}
            ids = list(choices)
            for job_id in ids:
                key = job_key("alice", job_id, "input")
                size = storage.put_file(sample.path, key)
                record = store.create(
                    {
                        "id": job_id,
                        "user_id": "alice",
                        "original_filename": "talk.mp4",
                        "target_language": "es",
                        "input_path": key,
                        "input_size": size,
                        "job_metadata": {"backends": choices[job_id]},
                    }
                )
                runner.enqueue(record)
            deadline = time.monotonic() + 60
            while not all(store.get(j).status.finished for j in ids):
                assert time.monotonic() < deadline, "the worker did not finish the jobs"
                applier.poll(block_ms=200)
            records = [store.get(j) for j in ids]
            applier.close()
            broker.close()
            worker.send_signal(signal.SIGTERM)
            out, err = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.communicate()
    assert worker.returncode == 0, err
    assert "worker stopped" in out
    for record in records:
        assert record.status is JobStatus.COMPLETED, record.error_message
        assert record.output_path is not None and storage.exists(record.output_path)
    # the worker swept its own work folder after each job: only its lock file is left
    assert [p.name for p in (tmp_path / "data" / "worker").iterdir()] == [".worker.lock"]
    # every line the worker wrote about a job names the job and its attempt (and the stage, once one ran)
    for job_id in ids:
        lines = [line for line in err.splitlines() if job_id in line]
        assert lines, err
        assert all(f"[job {job_id} attempt 1" in line for line in lines), lines
        assert any(f"[job {job_id} attempt 1 upload]" in line for line in lines), lines


def _worker(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``dubkit worker`` (which must stop by itself: it refuses to start); stderr unwrapped."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "dubkit"), "worker", *args],
        env={**os.environ, "DUBKIT_DATA_DIR": str(data)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    done.stderr = " ".join(done.stderr.split())  # rich wraps long lines
    return done


def test_a_worker_refuses_to_start_without_its_broker_its_storage_or_its_own_folder(tmp_path: Path) -> None:
    from local_services import free_port

    config = tmp_path / "pipeline.json"
    config.write_text(json.dumps(STANDIN_CONFIG))
    base = ("--config", str(config))
    unreachable = f"redis://127.0.0.1:{free_port()}/0"
    gone = _worker(tmp_path / "data", "--broker", unreachable, *base)
    assert gone.returncode == 2
    assert f"cannot reach the broker at {unreachable}" in gone.stderr
    assert not (tmp_path / "data" / "worker").exists()  # nothing was set up

    (tmp_path / "redis").mkdir()
    (tmp_path / "a-file").write_text("storage cannot live under a file")
    with redis_server(tmp_path / "redis") as url:
        storage = (tmp_path / "a-file" / "files").as_uri()
        unwritable = _worker(tmp_path / "data", "--broker", url, "--storage", storage, *base)
        assert unwritable.returncode == 2
        assert "cannot write to the storage" in unwritable.stderr

        first = subprocess.Popen(
            [str(Path(sys.executable).parent / "dubkit"), "worker", "--broker", url, *base],
            env={**os.environ, "DUBKIT_DATA_DIR": str(tmp_path / "data")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            assert first.stdout is not None and "worker ready" in first.stdout.readline()
            second = _worker(tmp_path / "data", "--broker", url, *base)
        finally:
            first.send_signal(signal.SIGTERM)
            first.communicate(timeout=30)
    assert second.returncode == 2
    assert f"is in use by another live worker (pid {first.pid})" in second.stderr
    assert "give each worker its own data folder" in second.stderr


def test_worker_with_a_broker_refuses_until_idle(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["worker", "--broker", "redis://127.0.0.1:1/0", "--until-idle"])
    assert result.exit_code == 2
    assert "--until-idle works with a job store" in result.stderr


def test_worker_rejects_a_bad_memory_budget(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["worker", "--db", str(tmp_path / "j.db"), "--model-memory-budget", "lots", "--until-idle"]
    )
    assert result.exit_code == 2
    assert "not a memory size" in result.stderr
