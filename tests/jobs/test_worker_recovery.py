"""How fast and how safely distributed workers hand jobs around, on a real Redis and real worker processes.

* Queue maintenance on demand: a dead consumer's message goes back to the queue once its heartbeat is older
  than the timeout, never before, and never while the consumer keeps talking to Redis.
* Prefetch 1: a job waiting in the queue goes to the next idle worker, not behind a busy worker's job.
* A worker frozen past the heartbeat timeout (SIGSTOP, as a paused VM) has its job handed to another worker;
  woken up, it notices at once and stops working on it, so the job completes once.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from local_services import redis_server

pytest.importorskip("dramatiq")  # the distributed extra

import dramatiq

from dubkit.jobs import JobStore
from dubkit.jobs.broker import ACTOR_NAME, QUEUE_NAME, acks_key
from dubkit.jobs.distributed import DistributedRunner, make_broker
from dubkit.jobs.events import JobEvent, JobEventState
from dubkit.jobs.redis_events import EventApplier
from dubkit.models.job import JobRecord, JobStatus
from dubkit.storage import FsspecStorage, job_key
from dubkit.testing import SampleVideo, make_sample_video

from .worker_procs import HEARTBEAT_TIMEOUT_S, Workers

OWNER = "alice"


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    script = (("en+m3", "Good morning and welcome."),)
    return make_sample_video(tmp_path_factory.mktemp("media") / "talk.mp4", script=script)


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    (tmp_path / "redis").mkdir()
    with redis_server(tmp_path / "redis") as url:
        yield url


@pytest.fixture
def storage(tmp_path: Path) -> FsspecStorage:
    return FsspecStorage(str(tmp_path / "storage"))


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


def apply_until(applier: EventApplier, done: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "timed out waiting for job events"
        applier.poll(block_ms=100)


def claims(seen: list[tuple[float, JobEvent]], job_id: str) -> list[tuple[float, str]]:
    """When each attempt of ``job_id`` was claimed, and by which worker (its consumer id)."""
    return [
        (at, e.message.rsplit(" on ", 1)[-1])
        for at, e in seen
        if e.job_id == job_id and e.state is JobEventState.CLAIMED
    ]


def test_maintenance_requeues_a_dead_consumers_message_only_after_its_heartbeat_timeout(
    redis_url: str,
) -> None:
    dead = make_broker(redis_url, heartbeat_timeout_ms=800)
    live = make_broker(redis_url, heartbeat_timeout_ms=800)
    live.declare_queue(QUEUE_NAME)
    message = dramatiq.Message(queue_name=QUEUE_NAME, actor_name=ACTOR_NAME, args=(), kwargs={}, options={})
    live.enqueue(message)
    assert len(dead.do_fetch(QUEUE_NAME, 1)) == 1  # held by `dead`, which now falls silent
    held = acks_key(dead.broker_id, QUEUE_NAME)
    queue = f"dramatiq:{QUEUE_NAME}"

    waiting = live.enqueue(  # a job that waits in the queue meanwhile
        dramatiq.Message(queue_name=QUEUE_NAME, actor_name=ACTOR_NAME, args=(), kwargs={}, options={})
    )

    live.maintain_all(QUEUE_NAME)  # its heartbeat is fresh: nothing moves
    assert live.client.scard(held) == 1 and live.client.llen(queue) == 1
    time.sleep(0.9)
    assert live.maintain_all(QUEUE_NAME) == 1
    assert live.client.exists(held) == 0 and live.client.llen(queue) == 2  # back in the queue,
    assert live.client.lindex(queue, 1) == waiting.options["redis_message_id"].encode()  # ahead of that one
    assert dead.broker_id.encode() not in live.client.zrange("dramatiq:__heartbeats__", 0, -1)

    # a consumer that keeps talking to Redis keeps its message, however often the others maintain
    assert len(live.do_fetch(QUEUE_NAME, 2)) == 2
    other = make_broker(redis_url, heartbeat_timeout_ms=800)
    for _ in range(15):
        live.maintain(QUEUE_NAME)  # what the worker's timer does, also its heartbeat
        other.maintain_all(QUEUE_NAME)
        time.sleep(0.1)
    assert live.client.scard(acks_key(live.broker_id, QUEUE_NAME)) == 2 and live.client.llen(queue) == 0
    for broker in (dead, live, other):
        broker.close()


def test_a_waiting_job_goes_to_an_idle_worker_not_behind_a_busy_one(
    db_path: Path, storage: FsspecStorage, sample: SampleVideo, redis_url: str, workers: Workers
) -> None:
    seen: list[tuple[float, JobEvent]] = []
    with JobStore(db_path) as store:
        broker = make_broker(redis_url)
        runner = DistributedRunner(store, broker, storage.url)
        applier = EventApplier(store, redis_url)
        applier.subscribe(lambda e: seen.append((time.monotonic(), e)))
        first = workers.start("--sleep", "4")
        for job_id in ("j1", "j2"):
            runner.enqueue(upload(store, storage, job_id, sample.path))
        apply_until(applier, lambda: bool(claims(seen, "j1")))
        time.sleep(0.5)  # with a prefetch of 2 the busy worker would take j2 now, and hold it
        second = workers.start("--sleep", "4")
        apply_until(applier, lambda: all(store.get(j).status.finished for j in ("j1", "j2")))
        records = [store.get(j) for j in ("j1", "j2")]
        applier.close()
        broker.close()

    assert all(r.status is JobStatus.COMPLETED for r in records)
    (_, j1_by), (j2_at, j2_by) = claims(seen, "j1")[0], claims(seen, "j2")[0]
    assert j1_by == workers.names[first.pid] and j2_by == workers.names[second.pid]
    j1_done = next(at for at, e in seen if e.job_id == "j1" and e.state is JobEventState.COMPLETED)
    assert j2_at < j1_done  # j2 ran while j1 was still running: it did not wait behind it


def test_a_frozen_worker_loses_its_job_and_stops_it_when_it_wakes(
    db_path: Path, storage: FsspecStorage, sample: SampleVideo, redis_url: str, workers: Workers
) -> None:
    seen: list[tuple[float, JobEvent]] = []
    with JobStore(db_path) as store:
        broker = make_broker(redis_url)
        runner = DistributedRunner(store, broker, storage.url)
        applier = EventApplier(store, redis_url)
        applier.subscribe(lambda e: seen.append((time.monotonic(), e)))
        runner.enqueue(upload(store, storage, "j1", sample.path))
        frozen = workers.start("--sleep", "6")

        def transcribing() -> bool:
            return any(e.stage == "transcribe" and e.state is JobEventState.STARTED for _, e in seen)

        apply_until(applier, transcribing)
        frozen.send_signal(signal.SIGSTOP)  # as a paused machine: alive, but silent
        stopped_at = time.monotonic()
        rescuer = workers.start("--sleep", "6")
        apply_until(applier, lambda: len(claims(seen, "j1")) == 2)
        handed_over = time.monotonic() - stopped_at
        frozen.send_signal(signal.SIGCONT)
        apply_until(applier, lambda: any(e.state is JobEventState.LOST for _, e in seen))
        apply_until(applier, lambda: store.get("j1").status.finished)
        record = store.get("j1")
        applier.close()
        broker.close()

    assert handed_over >= HEARTBEAT_TIMEOUT_S  # not before its heartbeat was too old
    assert [by for _, by in claims(seen, "j1")] == [workers.names[frozen.pid], workers.names[rescuer.pid]]
    lost = [e for _, e in seen if e.state is JobEventState.LOST]
    assert [e.attempt for e in lost] == [1]  # the woken worker gave the job up
    finals = [e for _, e in seen if e.state.final and e.state is not JobEventState.LOST]
    assert [(e.attempt, e.state) for e in finals] == [(2, JobEventState.COMPLETED)]
    assert record.status is JobStatus.COMPLETED and record.attempts == 2
