"""A small distributed cluster for the chaos test and the jobs benchmark.

Real parts: a ``redis-server``, worker processes (forked warm by ``worker_zygote.py``, stand-in backends,
each with its own work folder), local storage shared by the workers, and a server side in this process (a
SQLite `JobStore` written only by an `EventApplier`). `run_jobs` sends N jobs and applies events until every
job finished, optionally SIGKILLing a random worker every ``kill_every`` seconds and starting a new one in
its place.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import attrs

from dubkit.jobs import JobStore
from dubkit.jobs.distributed import DistributedRunner, make_broker
from dubkit.jobs.events import JobEvent, JobEventState
from dubkit.jobs.redis_events import EventApplier
from dubkit.models.job import JobRecord
from dubkit.storage import FsspecStorage, job_key

HERE = Path(__file__).parent
OWNER = "alice"
# Counts every transition of a job into ``completed`` that reaches the store (a real trigger, not a guess).
COMPLETIONS_TRIGGER = """
CREATE TABLE IF NOT EXISTS completions (job_id TEXT NOT NULL, at REAL NOT NULL);
CREATE TRIGGER IF NOT EXISTS count_completions AFTER UPDATE OF status ON jobs
WHEN NEW.status = 'completed' AND OLD.status <> 'completed'
BEGIN INSERT INTO completions VALUES (NEW.id, julianday('now')); END;
"""


@attrs.frozen
class Kill:
    """One SIGKILL of a worker."""

    at: float
    pid: int


@attrs.define
class ChaosRun:
    """What `run_jobs` saw."""

    wall_s: float
    records: dict[str, JobRecord]
    completions: dict[str, int]
    events: list[tuple[float, JobEvent]]
    kills: list[Kill]
    sqlite_opened_by_workers: list[int]
    workers_started: int

    def by_job(self) -> dict[str, list[tuple[float, JobEvent]]]:
        grouped: dict[str, list[tuple[float, JobEvent]]] = defaultdict(list)
        for item in self.events:
            grouped[item[1].job_id].append(item)
        return grouped


def _opens(pid: int, path: Path) -> bool:
    """Whether process ``pid`` has ``path`` (or its WAL) open now."""
    try:
        links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    return any(link.startswith(str(path)) for link in links)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class ForkedWorkers:
    """Worker processes forked by ``worker_zygote.py`` (warm, so a restart costs milliseconds)."""

    def __init__(self, redis_url: str, work_root: Path, sleep: float, warm_media: Path) -> None:
        command = [sys.executable, str(HERE / "worker_zygote.py"), redis_url, str(work_root), str(sleep)]
        self.zygote = subprocess.Popen(
            [*command, str(warm_media)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.zygote.stdin is not None and self.zygote.stdout is not None
        self._stdin, self._stdout = self.zygote.stdin, self.zygote.stdout
        assert self._stdout.readline().strip() == "ready"
        self.born: dict[int, float] = {}

    def spawn(self) -> int:
        """Fork one more worker; returns its pid."""
        self._stdin.write("spawn\n")
        self._stdin.flush()
        pid = int(self._stdout.readline())
        self.born[pid] = time.monotonic()
        return pid

    def alive(self, min_age: float = 0.0) -> list[int]:
        """The workers alive that were forked at least ``min_age`` seconds ago."""
        now = time.monotonic()
        return [pid for pid, born in self.born.items() if now - born >= min_age and _alive(pid)]

    def kill(self, pid: int) -> None:
        """SIGKILL a worker and wait until it is gone."""
        os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.005)
        del self.born[pid]

    def stop(self) -> None:
        """SIGTERM every worker (SIGKILL after 15 s), then end the fork server."""
        for pid in self.alive():
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while self.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in self.alive():
            os.kill(pid, signal.SIGKILL)
        self._stdin.close()
        self.zygote.wait(15)
        self._stdout.close()


class _Chaos(threading.Thread):
    """Every ``every`` seconds, SIGKILLs a random worker up for ``min_age`` seconds and forks another."""

    def __init__(self, workers: ForkedWorkers, every: float, db: Path, min_age: float) -> None:
        super().__init__(name="chaos", daemon=True)
        self.workers = workers
        self.every = every
        self.db = db
        self.min_age = min_age
        self.stop = threading.Event()
        self.kills: list[Kill] = []
        self.sqlite_opened: list[int] = []
        self.random = random.Random(7)

    def run(self) -> None:
        while not self.stop.wait(self.every):
            candidates = self.workers.alive(self.min_age)
            if not candidates:
                continue
            victim = self.random.choice(candidates)
            if _opens(victim, self.db):
                self.sqlite_opened.append(victim)
            self.workers.kill(victim)
            self.kills.append(Kill(time.monotonic(), victim))
            self.workers.spawn()


def run_jobs(
    place: Path,
    redis_url: str,
    sample: Path,
    *,
    jobs: int,
    workers: int = 3,
    sleep: float = 0.3,
    kill_every: float | None = None,
    min_age: float = 0.5,
    timeout: float = 120.0,
) -> ChaosRun:
    """Send ``jobs`` jobs to ``workers`` worker processes and apply their events until all finished.

    Raises:
        TimeoutError: Some job did not finish within ``timeout`` seconds.
    """
    storage = FsspecStorage(str(place / "storage"))
    db = place / "jobs.db"
    pool = ForkedWorkers(redis_url, place / "work", sleep, sample)
    with JobStore(db) as store:
        with sqlite3.connect(db) as conn:
            conn.executescript(COMPLETIONS_TRIGGER)
        broker = make_broker(redis_url)
        runner = DistributedRunner(store, broker, storage.url)
        applier = EventApplier(store, redis_url, storage=storage)
        events: list[tuple[float, JobEvent]] = []
        applier.subscribe(lambda e: events.append((time.monotonic(), e)))
        ids = [f"job{i:03d}" for i in range(jobs)]
        for job_id in ids:
            key = job_key(OWNER, job_id, "input")
            size = storage.put_file(sample, key)
            store.create(
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
        for _ in range(workers):
            pool.spawn()
        chaos = _Chaos(pool, kill_every, db, min_age) if kill_every else None
        started = time.monotonic()
        for job_id in ids:
            runner.enqueue(store.get(job_id))
        if chaos is not None:
            chaos.start()
        try:
            deadline = started + timeout
            while not all(store.get(j).status.finished for j in ids):
                if time.monotonic() > deadline:
                    done = sum(store.get(j).status.finished for j in ids)
                    kills = len(chaos.kills) if chaos else 0
                    raise TimeoutError(
                        f"{len(ids) - done} jobs still running after {timeout} s ({kills} kills)"
                    )
                applier.poll(block_ms=100)
            wall = time.monotonic() - started
        finally:
            if chaos is not None:
                chaos.stop.set()
                chaos.join()
            pool.stop()
            applier.close()
            broker.close()
        records = {j: store.get(j) for j in ids}
    with sqlite3.connect(db) as conn:
        counted = dict(conn.execute("SELECT job_id, COUNT(*) FROM completions GROUP BY job_id").fetchall())
    return ChaosRun(
        wall_s=wall,
        records=records,
        completions={j: counted.get(j, 0) for j in ids},
        events=events,
        kills=chaos.kills if chaos else [],
        sqlite_opened_by_workers=chaos.sqlite_opened if chaos else [],
        workers_started=workers + (len(chaos.kills) if chaos else 0),
    )


_STAGE_ENDS = (JobEventState.FINISHED, JobEventState.STAGE_FAILED)


def in_stage_at_kill(run: ChaosRun) -> int:
    """How many kills interrupted an attempt in the middle of a stage (a ``started`` without its end)."""
    interrupted = 0
    for items in run.by_job().values():
        attempts = sorted({e.attempt for _, e in items})
        for attempt in attempts[:-1]:  # every attempt but the last one was cut short
            states = [e for _, e in items if e.attempt == attempt]
            started = {e.stage for e in states if e.state is JobEventState.STARTED}
            ended = {
                e.stage for e in states if e.state in (JobEventState.FINISHED, JobEventState.STAGE_FAILED)
            }
            if started - ended:
                interrupted += 1
    return interrupted
