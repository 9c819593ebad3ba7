"""A job killed right after any stage commits, then run again, gives byte-identical artifacts and outputs.

For each of the 11 stages, a worker subprocess (``stage_kill_worker.py``) runs the job and SIGKILLs itself
right after that stage's artifact is committed; the job is then taken over (its lease ran out) and finished
in this process. Every file of the job's work folder (inputs, stage artifacts, exported outputs) and every
output in storage must equal, byte for byte, those of a clean run in the same folders.

One thing differs by nature: the dub project (``*.dub.json``) records each stage's measured wall time
(``quality.stage_seconds`` and ``quality.real_time_factor``), which no two runs share. Those two entries
are compared as present and well-formed; the rest of the project must be equal, and the media, subtitles
and every stage artifact byte-identical.
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dubkit.jobs import JobStore
from dubkit.jobs.events import JobEventState
from dubkit.jobs.pipelines import WarmPipelines
from dubkit.jobs.runner import InProcessRunner
from dubkit.models.job import JobStatus
from dubkit.storage import FsspecStorage, job_key
from dubkit.testing import SampleVideo, make_sample_video

from .distributed_backends import config
from .stage_kill_worker import LEASE_SECONDS

HERE = Path(__file__).parent
STAGES = [
    "probe",
    "extract",
    "separate",
    "vad",
    "diarize",
    "transcribe",
    "translate",
    "synthesize",
    "fit",
    "mix",
    "mux",
]
Snapshot = dict[str, bytes]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    script = (("en+m3", "Good morning and welcome."), ("en+f3", "Thank you, and see you soon."))
    return make_sample_video(tmp_path_factory.mktemp("media") / "talk.mp4", script=script)


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder every run uses in turn (paths inside artifacts are then the same)."""
    return tmp_path_factory.mktemp("resume")


def queue_job(place: Path, sample: SampleVideo) -> Path:
    """A fresh store, storage and work folder at ``place`` with one queued job; returns the store's path."""
    shutil.rmtree(place, ignore_errors=True)
    place.mkdir(parents=True)
    storage = FsspecStorage(str(place / "storage"))
    key = job_key("alice", "job", "input")
    size = storage.put_file(sample.path, key)
    db = place / "jobs.db"
    with JobStore(db) as store:
        store.create(
            {
                "id": "job",
                "user_id": "alice",
                "original_filename": "talk.mp4",
                "source_language": "en",
                "target_language": "es",
                "input_path": key,
                "input_size": size,
            }
        )
    return db


def finish(place: Path, db: Path) -> Snapshot:
    """Run the job to the end in this process; every file of its work folder and storage, by path."""
    runner = InProcessRunner(
        db,
        FsspecStorage(str(place / "storage")),
        WarmPipelines(config()),
        work_root=place / "work",
        keep_work=True,
    )
    stats = runner.run_until_idle()
    with JobStore(db) as store:
        record = store.get("job")
    assert record.status is JobStatus.COMPLETED and stats.completed == 1, record.error_message
    return {
        str(path.relative_to(place)): path.read_bytes()
        for folder in (place / "work", place / "storage")
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def clean(place: Path, sample: SampleVideo) -> Snapshot:
    return finish(place, queue_job(place, sample))


@pytest.mark.parametrize("stage", STAGES)
def test_a_kill_right_after_a_stage_then_a_rerun_gives_identical_bytes(
    stage: str, place: Path, sample: SampleVideo, clean: Snapshot
) -> None:
    db = queue_job(place, sample)
    killed = subprocess.run(
        [
            sys.executable,
            str(HERE / "stage_kill_worker.py"),
            str(db),
            str(place / "storage"),
            str(place / "work"),
            stage,
        ],
        capture_output=True,
        timeout=120,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    with JobStore(db) as store:
        assert store.get("job").status is JobStatus.PROCESSING  # the dead worker still holds it
    time.sleep(LEASE_SECONDS)
    resumed = finish(place, db)

    assert (sorted(set(resumed) - set(clean)), sorted(set(clean) - set(resumed))) == ([], [])
    differing = sorted(name for name in clean if resumed[name] != clean[name])
    projects = [name for name in clean if name.endswith(".dub.json")]
    assert len(projects) == 2  # the exported project, and its upload
    assert sorted(set(differing) - set(projects)) == []  # media, subtitles, artifacts: byte-identical
    for name in projects:
        assert without_timings(resumed[name]) == without_timings(clean[name])


def without_timings(project: bytes) -> dict[str, object]:
    """The project's JSON without what a run measures: stage times (checked to be there, one per stage)
    and the synthesis cost of the run that voiced the lines (none when the lines came from the cache)."""
    data = json.loads(project)
    quality = data["quality"]
    for measured in ("stage_seconds", "real_time_factor"):
        times = quality.pop(measured)
        assert sorted(times) == sorted(STAGES) and all(t >= 0 for t in times.values())
    synthesis = quality["synthesis"]
    for measured in ("cpu_seconds", "speech_seconds"):
        assert synthesis.pop(measured) >= 0
    cost = synthesis.pop("cpu_per_speech_second")
    assert cost is None or cost >= 0
    return data


def test_a_job_killed_on_one_machine_resumes_on_another_from_the_storage_checkpoints(
    tmp_path: Path, sample: SampleVideo, clean: Snapshot
) -> None:
    db = queue_job(tmp_path, sample)
    storage = FsspecStorage(str(tmp_path / "storage"))
    killed = subprocess.run(
        [sys.executable, str(HERE / "stage_kill_worker.py"), str(db), str(tmp_path / "storage"),
         str(tmp_path / "machine-a"), "transcribe"],
        capture_output=True,
        timeout=120,
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    markers = [k for k in storage.list("alice/job/run") if k.endswith("/artifact.json")]
    assert len(markers) == STAGES.index("transcribe") + 1  # every committed stage is in storage
    shutil.rmtree(tmp_path / "machine-a")  # the first machine is gone, with its work folder
    time.sleep(LEASE_SECONDS)

    runner = InProcessRunner(db, storage, WarmPipelines(config()), work_root=tmp_path / "machine-b")
    events = []
    runner.subscribe(events.append)
    stats = runner.run_until_idle()
    with JobStore(db) as store:
        assert stats.completed == 1, store.get("job").error_message
    skipped = [e.stage for e in events if e.state is JobEventState.SKIPPED]
    ran = [e.stage for e in events if e.state is JobEventState.FINISHED]
    assert skipped == STAGES[: STAGES.index("transcribe") + 1]  # resumed after the last finished stage
    assert ran == STAGES[STAGES.index("transcribe") + 1 :]
    media = "alice/job/output/talk.es.mp4"
    with storage.open_read(media) as handle:
        assert handle.read() == clean["storage/" + media]  # the same bytes as a run that never stopped
    finished = [k for k in storage.list("alice/job/run") if k.endswith("/artifact.json")]
    assert len(finished) == len(STAGES)  # the run stays mirrored: a re-dub after edits resumes from it
