"""Chaos: 3 workers on a real Redis, 60 short jobs, a random worker SIGKILLed every 0.5 s and restarted.

The workers are real subprocesses with the fast stand-in backends (the transcriber sleeps 0.3 s, so kills land
in the middle of stages), each with its own work folder as on a machine of its own (an interrupted job resumes
from its checkpoints in storage); the server is this process, whose SQLite store only the `EventApplier`
writes. A SQLite trigger counts every transition into ``completed`` that reaches the store.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from local_services import redis_server

pytest.importorskip("dramatiq")  # the distributed extra

from dubkit.jobs import JobStore
from dubkit.jobs.events import JobEventState
from dubkit.jobs.pipelines import WarmPipelines
from dubkit.jobs.runner import InProcessRunner
from dubkit.media import probe
from dubkit.models.job import JobStatus
from dubkit.storage import FsspecStorage, job_key
from dubkit.storage.localfile import TEMP_SUFFIX
from dubkit.testing import make_sample_video

from .chaos_harness import in_stage_at_kill, run_jobs
from .distributed_backends import config

JOBS = 60
OUTPUT_NAMES = ["talk.es.dub.json", "talk.es.mp4", "talk.es.srt", "talk.es.vtt"]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "redis").mkdir()
    with redis_server(tmp_path / "redis") as url:
        yield url


def read(storage: FsspecStorage, key: str) -> bytes:
    with storage.open_read(key) as handle:
        return handle.read()


def clean_outputs(tmp_path: Path, sample: Path) -> dict[str, bytes]:
    """One job run cleanly with the same backends: the media and subtitles every chaos job must match."""
    storage = FsspecStorage(str(tmp_path / "clean" / "storage"))
    key = job_key("alice", "clean", "input")
    with JobStore(tmp_path / "clean" / "jobs.db") as store:
        store.create(
            {
                "id": "clean",
                "user_id": "alice",
                "original_filename": "talk.mp4",
                "source_language": "en",
                "target_language": "es",
                "input_path": key,
                "input_size": storage.put_file(sample, key),
            }
        )
    runner = InProcessRunner(
        tmp_path / "clean" / "jobs.db",
        storage,
        WarmPipelines(config()),
        work_root=tmp_path / "clean" / "work",
    )
    assert runner.run_until_idle().completed == 1
    prefix = "alice/clean/output/"
    return {name: read(storage, prefix + name) for name in OUTPUT_NAMES if not name.endswith(".json")}


def test_jobs_survive_workers_killed_every_half_second(tmp_path: Path, redis_url: str) -> None:
    sample = make_sample_video(tmp_path / "talk.mp4", script=(("en+m3", "Good morning and welcome."),))
    reference = clean_outputs(tmp_path, sample.path)
    place = tmp_path / "cluster"
    place.mkdir()

    # The timeout is a hang guard, not a speed target: a slow moment of a 2-core machine left 5 of 60
    # jobs running at 150 s once (287 kills), each kill costing its job a heartbeat timeout.
    run = run_jobs(place, redis_url, sample.path, jobs=JOBS, kill_every=0.5, timeout=300)

    # every job completed, and exactly one completion reached the store per job
    assert {r.status for r in run.records.values()} == {JobStatus.COMPLETED}
    assert run.completions == dict.fromkeys(run.records, 1)
    # the kills were real: many workers died, and attempts were cut off in the middle of a stage
    assert len(run.kills) >= 10
    assert in_stage_at_kill(run) >= 5
    assert any(r.attempts > 1 for r in run.records.values())
    # the workers never opened the server's SQLite file (the store is written by the applier alone)
    assert run.sqlite_opened_by_workers == []
    # no job was left "processing" by a dead worker: every attempt cut short (no final event) was followed by
    # a new delivery (after the broker's heartbeat timeout and the wait in the queue); no attempt failed. A
    # worker killed after its job's final event but before it marked the job finished lets the job run once
    # more (at-least-once delivery): the store refuses that second completion, as counted above.
    for job_id, items in run.by_job().items():
        attempts = sorted({e.attempt for _, e in items})
        finals = {e.attempt: e.state for _, e in items if e.state.final}
        assert finals.get(attempts[-1]) is JobEventState.COMPLETED, job_id
        assert set(finals.values()) == {JobEventState.COMPLETED}, (job_id, finals)
        claimed = [e.attempt for _, e in items if e.state is JobEventState.CLAIMED]
        assert claimed == attempts, (job_id, claimed)
    # every output exists once, whole: media and subtitles equal the clean run's bytes; projects parse
    storage = FsspecStorage(str(place / "storage"))
    assert not [k for k in storage.list("alice") if k.endswith(TEMP_SUFFIX)]
    for job_id, record in run.records.items():
        prefix = f"alice/{job_id}/output/"
        assert sorted(k.removeprefix(prefix) for k in storage.list(prefix)) == OUTPUT_NAMES
        for name, expected in reference.items():
            assert read(storage, prefix + name) == expected, (job_id, name)
        project = json.loads(read(storage, prefix + "talk.es.dub.json"))
        assert project["target_language"] == "es" and project["segments"]
        assert record.output_path == prefix + "talk.es.mp4"
    probed = probe(place / "storage" / "alice" / "job000" / "output" / "talk.es.mp4")
    assert probed.duration == pytest.approx(sample.duration, abs=0.2)
