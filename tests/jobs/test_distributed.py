"""The distributed runner on a real Redis, real Dramatiq worker processes, real local storage and media.

The worker runs in a subprocess (``distributed_worker.py``) with the fast stand-in backends of
``distributed_backends.py``; this process is the server: it stores and enqueues jobs, and applies the
workers' events to its SQLite store with an `EventApplier`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("dramatiq")  # the distributed extra

from dubkit.jobs import JobStore
from dubkit.jobs.distributed import DistributedRunner, make_broker
from dubkit.jobs.events import JobEvent, JobEventState
from dubkit.jobs.redis_events import EventApplier
from dubkit.models.job import JobRecord, JobStatus
from dubkit.storage import FsspecStorage, job_key, job_prefix
from dubkit.testing import SampleVideo, make_sample_video

from .redis_server import redis_server

HERE = Path(__file__).parent
OWNER = "alice"
OUTPUT_NAMES = ["talk.es.dub.json", "talk.es.mp4", "talk.es.srt", "talk.es.vtt"]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    return make_sample_video(tmp_path_factory.mktemp("media") / "talk.mp4")


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    folder = tmp_path / "redis"
    folder.mkdir()
    with redis_server(folder) as url:
        yield url


@pytest.fixture
def storage(tmp_path: Path) -> FsspecStorage:
    return FsspecStorage(str(tmp_path / "storage"))


class Workers:
    """Starts worker subprocesses; stops (or kills) them after the test."""

    def __init__(self, redis_url: str, work_root: Path) -> None:
        self.redis_url = redis_url
        self.work_root = work_root
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, transcribe_sleep: float = 0.0) -> subprocess.Popen[bytes]:
        env = {**os.environ, "DUBKIT_TEST_TRANSCRIBE_SLEEP": str(transcribe_sleep)}
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "distributed_worker.py"), self.redis_url, str(self.work_root)],
            env=env,
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        self.procs.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture
def workers(redis_url: str, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(redis_url, tmp_path / "work")
    yield started
    started.stop()


def upload(store: JobStore, storage: FsspecStorage, job_id: str, source: Path) -> JobRecord:
    key = job_key(OWNER, job_id, "input")
    size = storage.put_file(source, key)
    return store.create(
        {
            "id": job_id,
            "user_id": OWNER,
            "original_filename": "talk.mp4",
            "source_language": "en",
            "target_language": "es",
            "input_path": key,
            "input_size": size,
        }
    )


def apply_until(applier: EventApplier, done: Callable[[], bool], timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out waiting for job events"
        applier.poll(block_ms=200)


def by_job(events: list[JobEvent]) -> dict[str, list[JobEvent]]:
    grouped: dict[str, list[JobEvent]] = defaultdict(list)
    for event in events:
        grouped[event.job_id].append(event)
    return grouped


def assert_ordered(events: list[JobEvent]) -> None:
    for attempt in {e.attempt for e in events}:
        fractions = [e.fraction for e in events if e.attempt == attempt]
        assert fractions == sorted(fractions), fractions


def test_three_jobs_complete_exactly_once(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    redis_url: str,
    workers: Workers,
    tmp_path: Path,
) -> None:
    seen: list[JobEvent] = []
    with JobStore(db_path) as store:
        broker = make_broker(redis_url)
        runner = DistributedRunner(store, broker, str(tmp_path / "storage"))
        applier = EventApplier(store, redis_url)
        applier.subscribe(seen.append)
        ids = ["j1", "j2", "j3"]
        for job_id in ids:
            runner.enqueue(upload(store, storage, job_id, sample.path))
        workers.start()
        apply_until(applier, lambda: all(store.get(j).status.finished for j in ids))
        records = {j: store.get(j) for j in ids}
        applier.close()
        broker.close()

    grouped = by_job(seen)
    for job_id, record in records.items():
        assert record.status is JobStatus.COMPLETED, record.error_message
        assert record.attempts == 1 and record.progress == 1.0 and record.stage == "mux"
        prefix = job_prefix(OWNER, job_id) + "output/"
        assert sorted(k.removeprefix(prefix) for k in storage.list(prefix)) == OUTPUT_NAMES
        assert record.output_path == prefix + "talk.es.mp4"
        assert record.output_size == storage.size(record.output_path) > 0
        assert record.processing_time_seconds is not None and record.processing_time_seconds > 0
        got = grouped[job_id]
        assert_ordered(got)
        assert got[0].state is JobEventState.CLAIMED
        assert got[-1].state is JobEventState.COMPLETED and got[-1].fraction == 1.0
        assert [e.state for e in got].count(JobEventState.COMPLETED) == 1
        finished = [e.stage for e in got if e.state is JobEventState.FINISHED]
        assert finished[0] == "probe" and finished[-1] == "mux" and len(finished) == 11
        assert not (tmp_path / "work" / job_id).exists()


def test_a_killed_worker_job_is_redelivered_and_completes_once(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    redis_url: str,
    workers: Workers,
    tmp_path: Path,
) -> None:
    seen: list[JobEvent] = []
    with JobStore(db_path) as store:
        broker = make_broker(redis_url)
        runner = DistributedRunner(store, broker, str(tmp_path / "storage"))
        applier = EventApplier(store, redis_url)
        applier.subscribe(seen.append)
        runner.enqueue(upload(store, storage, "j1", sample.path))
        first = workers.start(transcribe_sleep=30.0)  # stuck in transcribe until killed

        def in_transcribe() -> bool:
            return any(e.stage == "transcribe" and e.state is JobEventState.STARTED for e in seen)

        apply_until(applier, in_transcribe)
        assert store.get("j1").status is JobStatus.PROCESSING
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = time.monotonic()
        workers.start()
        apply_until(applier, lambda: store.get("j1").status.finished)
        redelivery = time.monotonic() - killed_at
        record = store.get("j1")
        applier.close()
        broker.close()

    assert record.status is JobStatus.COMPLETED, record.error_message
    assert record.attempts == 2
    states = [e.state for e in seen]
    assert states.count(JobEventState.COMPLETED) == 1 and states[-1] is JobEventState.COMPLETED
    assert [e.attempt for e in seen if e.state is JobEventState.CLAIMED] == [1, 2]
    second = [e for e in seen if e.attempt == 2]
    skipped = [e.stage for e in second if e.state is JobEventState.SKIPPED]
    assert "probe" in skipped and "transcribe" not in skipped  # resumed from the finished stages
    assert_ordered(seen)
    assert redelivery < 30
    prefix = job_prefix(OWNER, "j1") + "output/"
    assert sorted(k.removeprefix(prefix) for k in storage.list(prefix)) == OUTPUT_NAMES
