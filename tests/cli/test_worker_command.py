"""`dubkit worker` works through a real job store with real storage, as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dubkit.cli import app
from dubkit.jobs import JobStore
from dubkit.models.job import JobStatus
from dubkit.storage import FsspecStorage, job_key
from dubkit.testing import make_sample_video

pytestmark = pytest.mark.models


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
