"""The distributed runner on a real Redis, real Dramatiq worker processes, real local storage and media.

The worker runs in a subprocess (``distributed_worker.py``) with the fast stand-in backends of
``distributed_backends.py``; this process is the server: it stores and enqueues jobs, and applies the
workers' events to its SQLite store with an `EventApplier`. Every test runs with storage on local disk and
on a real S3 endpoint (moto's server).
"""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from local_services import redis_server

dramatiq = pytest.importorskip("dramatiq")  # the distributed extra

from dubkit.jobs import JobStore
from dubkit.jobs.distributed import QUEUE_NAME, DistributedRunner, make_broker
from dubkit.jobs.events import JobEvent, JobEventState
from dubkit.jobs.redis_events import EventApplier
from dubkit.jobs.redis_keys import EVENTS_STREAM, JOB_KEY_TTL_S, attempts_key
from dubkit.models.job import JobRecord, JobStatus
from dubkit.storage import FsspecStorage, job_key, job_prefix
from dubkit.testing import SampleVideo, make_sample_video

from .worker_procs import Workers

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
def workers(
    redis_url: str, storage: FsspecStorage, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Workers]:
    endpoint = request.getfixturevalue("s3_endpoint") if storage.scheme == "s3" else None
    started = Workers(redis_url, tmp_path / "work", endpoint)
    yield started
    started.stop()


def upload(
    store: JobStore, storage: FsspecStorage, job_id: str, source: Path, backends: dict[str, str] | None = None
) -> JobRecord:
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
            "job_metadata": {"backends": backends} if backends else {},
        }
    )


def apply_until(applier: EventApplier, done: Callable[[], bool], timeout: float = 40.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out waiting for job events"
        applier.poll(block_ms=200)


def wait_for(done: Callable[[], bool], message: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


def job_keys(redis_url: str) -> list[str]:
    """The per-job keys in Redis (Dramatiq's queue structures and the capped event stream are not)."""
    client = redis.Redis.from_url(redis_url)
    try:
        return sorted(k.decode() for k in client.keys("dubkit:*") if k != EVENTS_STREAM.encode())
    finally:
        client.close()


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
        runner = DistributedRunner(store, broker, storage.url)
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

    wait_for(lambda: job_keys(redis_url) == [], "the jobs' Redis keys were not deleted")
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
    # the worker swept its work folder after each job: only its lock file is left
    assert [p.name for p in workers.folder(0).iterdir()] == [".worker.lock"]


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
        runner = DistributedRunner(store, broker, storage.url)
        applier = EventApplier(store, redis_url)
        applier.subscribe(seen.append)
        runner.enqueue(upload(store, storage, "j1", sample.path))
        first = workers.start("--sleep", "30")  # stuck in transcribe until killed

        def in_transcribe() -> bool:
            return any(e.stage == "transcribe" and e.state is JobEventState.STARTED for e in seen)

        apply_until(applier, in_transcribe)
        assert store.get("j1").status is JobStatus.PROCESSING
        ttl = broker.client.ttl(attempts_key("j1"))
        time.sleep(1.5)  # long enough for the attempt to record a sign of life
        first.send_signal(signal.SIGKILL)
        first.wait()
        killed_at = time.monotonic()
        workers.start()
        apply_until(applier, lambda: any(e.attempt == 2 for e in seen))
        redelivery = time.monotonic() - killed_at
        apply_until(applier, lambda: store.get("j1").status.finished)
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
    # the dead worker's job was back in the queue and running again within the heartbeat timeout (1.5 s)
    # plus a maintenance interval (0.2 s) and the new worker's start
    assert redelivery < 15
    prefix = job_prefix(OWNER, "j1") + "output/"
    assert sorted(k.removeprefix(prefix) for k in storage.list(prefix)) == OUTPUT_NAMES
    # a running job's keys expire on their own; once the job ended they are gone
    assert 0 < ttl <= JOB_KEY_TTL_S
    wait_for(lambda: job_keys(redis_url) == [], "the job's Redis keys were not deleted")
    # the processing time covers both attempts, which are listed
    history = record.job_metadata["attempt_history"]
    assert isinstance(history, list)
    assert [(a["attempt"], a["outcome"]) for a in history] == [(1, "interrupted"), (2, "completed")]
    assert history[0]["seconds"] >= 1.0
    assert record.processing_time_seconds == pytest.approx(sum(a["seconds"] for a in history), abs=0.01)


def test_a_worker_killed_after_its_job_ended_does_not_run_it_again(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    redis_url: str,
    workers: Workers,
) -> None:
    seen: list[JobEvent] = []
    with JobStore(db_path) as store:
        broker = make_broker(redis_url)
        runner = DistributedRunner(store, broker, storage.url)
        applier = EventApplier(store, redis_url)
        applier.subscribe(seen.append)
        runner.enqueue(upload(store, storage, "j1", sample.path))
        first = workers.start("--kill-after-final")  # dies after the final event, before acknowledging
        apply_until(applier, lambda: store.get("j1").status.finished)
        first.wait()
        assert job_keys(redis_url) == ["dubkit:attempts:j1", "dubkit:finished:j1"]
        workers.start()  # its queue maintenance hands it the dead worker's message
        wait_for(lambda: job_keys(redis_url) == [], "the redelivery was not dropped and acknowledged")
        applier.poll(block_ms=200)
        assert broker.client.hlen(f"dramatiq:{QUEUE_NAME}.msgs") == 0
        record = store.get("j1")
        applier.close()
        broker.close()

    assert record.status is JobStatus.COMPLETED and record.attempts == 1
    assert [e.attempt for e in seen if e.state is JobEventState.CLAIMED] == [1]  # never run again
    assert [e.state for e in seen].count(JobEventState.COMPLETED) == 1


def test_backend_choices_travel_in_the_message_and_a_bad_one_fails_only_its_job(
    db_path: Path, storage: FsspecStorage, sample: SampleVideo, redis_url: str, workers: Workers
) -> None:
    with JobStore(db_path) as store:
        broker = make_broker(redis_url)
        runner = DistributedRunner(store, broker, storage.url)
        applier = EventApplier(store, redis_url)
        runner.enqueue(upload(store, storage, "bad", sample.path, backends={"translator": "babelfish"}))
        runner.enqueue(
            upload(store, storage, "crash", sample.path, backends={"transcriber": "standin-crash"})
        )
        runner.enqueue(
            upload(store, storage, "b", sample.path, backends={"transcriber": "standin-regions-b"})
        )
        workers.start("--max-attempts", "1")
        ids = ["bad", "crash", "b"]
        apply_until(applier, lambda: all(store.get(j).status.finished for j in ids))
        bad, crash, chosen = (store.get(j) for j in ids)
        applier.close()
        broker.close()

    assert bad.status is JobStatus.FAILED and bad.error_message is not None
    assert "babelfish" in bad.error_message
    # the crashing transcriber was chosen by the message (the worker's own would not crash)
    assert crash.status is JobStatus.FAILED and crash.error_message is not None
    assert "model crashed" in crash.error_message
    assert chosen.status is JobStatus.COMPLETED, chosen.error_message


def test_a_cancel_that_reaches_the_server_before_the_completion_wins(
    db_path: Path, storage: FsspecStorage, sample: SampleVideo, redis_url: str, workers: Workers
) -> None:
    seen: list[JobEvent] = []
    with JobStore(db_path) as store:
        broker = make_broker(redis_url)
        runner = DistributedRunner(store, broker, storage.url)
        applier = EventApplier(store, redis_url, storage=storage)  # to remove the outputs of a late cancel

        def cancel_when_uploading(event: JobEvent) -> None:  # applied in stream order: before `completed`
            if event.state is JobEventState.UPLOADING:
                store.request_cancel(event.job_id, OWNER)  # the store only; the worker does not hear of it

        applier.subscribe(cancel_when_uploading)
        applier.subscribe(seen.append)
        runner.enqueue(upload(store, storage, "late", sample.path))
        workers.start()
        apply_until(applier, lambda: any(e.state is JobEventState.CANCELLED for e in seen))
        record = store.get("late")
        applier.close()
        broker.close()

    states = [e.state for e in seen]
    assert JobEventState.COMPLETED not in states  # the worker's `completed` was turned into `cancelled`
    assert record.status is JobStatus.CANCELLED and record.output_path is None
    assert storage.list(job_prefix(OWNER, "late") + "output/") == []
