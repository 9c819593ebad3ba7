"""Workers benchmark: recovery under chaos, and cancel latency in every stage.

(a) Chaos on one machine, all real processes: a ``redis-server``, a ``dubkit serve --broker`` server and
    three ``dubkit worker --broker`` processes, each with its own data folder (as on machines of their own),
    sharing local storage; jobs are uploaded over HTTP. The workers run the fast stand-in backends (the
    stand-in transcriber of ``tests/plugins/standin_plugin`` sleeps a few seconds per job, no model): the
    point here is the queueing, not the dubbing. At random moments a worker that holds a job is SIGKILLed
    and restarted on its folder; the server is SIGKILLed once and restarted. The workers keep the default
    recovery settings (heartbeat timeout 15 s, maintenance every 5 s). Measured: jobs lost, jobs produced
    twice, for each kill the time until its job is back in the queue and running again (target <= 30 s),
    worker idle time while jobs waited (sampled from Redis every 0.1 s: an idle live worker while a job
    waits in the queue or behind another in a worker; target 0 beyond the hand-over), the Redis keys left
    once every job ended, and the bytes left in the work folders.
(b) Cancel latency on the sample video (``make_sample_video``, 27 s) with the real default backends, through
    the real path: a ``dubkit worker --broker`` process with the default offline stack, and this process as
    the server (`DistributedRunner.cancel`, an `EventApplier`). For each stage a new job is cancelled part
    way into that stage; the latency runs from the request to the worker's ``cancelled`` event (the job
    stopped, its partial outputs removed). The default separator is ``none``, so a demucs separation with an
    htdemucs-sized model (random weights: the same architecture and cost; no weights can be downloaded
    here) is also cancelled inside a model segment, at the pipeline level. Target: <= 2 s everywhere.

Run: .venv/bin/python benchmarks/bench_workers.py   (writes benchmarks/results/workers.json; about 8 minutes
on 2 cores). ``--part chaos`` or ``--part cancel`` runs one half.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import attrs
import httpx
import redis

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests" / "support"))

from local_services import free_port, redis_server  # noqa: E402

from dubkit.jobs import JobStore  # noqa: E402
from dubkit.jobs.broker import QUEUE_NAME, acks_key  # noqa: E402
from dubkit.jobs.distributed import DistributedRunner, make_broker  # noqa: E402
from dubkit.jobs.event_codec import decode_event  # noqa: E402
from dubkit.jobs.events import JobEvent, JobEventState  # noqa: E402
from dubkit.jobs.redis_events import EventApplier  # noqa: E402
from dubkit.jobs.redis_keys import EVENTS_STREAM  # noqa: E402
from dubkit.storage import FsspecStorage, job_key  # noqa: E402
from dubkit.testing import make_sample_video  # noqa: E402

RESULTS = HERE / "results" / "workers.json"
DUBKIT = str(Path(sys.executable).parent / "dubkit")
STANDIN = {
    "vad": "energy",
    "diarizer": "single",
    "transcriber": "standin-regions",
    "translator": "shout",
    "synthesizer": "sine-voice",
}
STAGES = ("probe", "extract", "separate", "vad", "diarize", "transcribe", "translate", "synthesize", "fit")
STAGES += ("mix", "mux")
PER_JOB_PREFIXES = ("dubkit:attempts:", "dubkit:finished:", "dubkit:cancel:")
LATER = ("redis_", "per_job", "heartbeat", "event_", "work_")
"""Result keys listed after the figures."""
COMPLETIONS_TRIGGER = """
CREATE TABLE IF NOT EXISTS completions (job_id TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS count_completions AFTER UPDATE OF status ON jobs
WHEN NEW.status = 'completed' AND OLD.status <> 'completed'
BEGIN INSERT INTO completions VALUES (NEW.id); END;
"""


def stream_events(client: redis.Redis) -> list[tuple[float, JobEvent]]:
    """Every event on the stream, with the time Redis received it (the entry id's milliseconds)."""
    out = []
    for entry_id, fields in client.xrange(EVENTS_STREAM):
        event, _ = decode_event(fields[b"event"])
        out.append((int(entry_id.split(b"-")[0]) / 1000, event))
    return out


def folder_bytes(folder: Path) -> int:
    """Bytes under ``folder``, the lock file aside (files a worker removes meanwhile count as gone)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            if name != ".worker.lock":
                with contextlib.suppress(FileNotFoundError):
                    total += (Path(root) / name).stat().st_size
    return total


def swept_bytes(folder: Path, timeout: float = 5.0) -> int:
    """The bytes left in a work folder once its worker swept it after a job (waiting up to ``timeout``)."""
    deadline = time.monotonic() + timeout
    while (left := folder_bytes(folder)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@attrs.define
class Worker:
    """One ``dubkit worker --broker`` process in its slot (data folder)."""

    slot: int
    proc: subprocess.Popen[str]
    ready: threading.Event = attrs.field(factory=threading.Event)
    consumer: str = ""
    started: float = attrs.field(factory=time.time)

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


class Cluster:
    """The processes of the chaos run."""

    def __init__(self, place: Path, redis_url: str, config: Path, slots: int) -> None:
        self.place = place
        self.redis_url = redis_url
        self.config = config
        self.port = free_port()
        self.server: subprocess.Popen[bytes] | None = None
        self.workers: dict[int, Worker] = {}
        self.slots = slots
        self.storage_url = (place / "files").as_uri()

    def data(self, slot: int) -> Path:
        return self.place / f"worker{slot}"

    def start_worker(self, slot: int) -> Worker:
        env = {**os.environ, "DUBKIT_DATA_DIR": str(self.data(slot)), "DUBKIT_LOG_LEVEL": "INFO"}
        log = (self.place / f"worker{slot}.log").open("a")
        proc = subprocess.Popen(
            [DUBKIT, "worker", "--broker", self.redis_url, "--config", str(self.config)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        log.close()
        worker = Worker(slot, proc)

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                if line.startswith("worker ready"):
                    worker.consumer = line.split(" as ", 1)[1].split(";")[0].strip()
                    worker.ready.set()

        threading.Thread(target=read, daemon=True).start()
        self.workers[slot] = worker
        return worker

    def start_server(self) -> None:
        env = {
            **os.environ,
            "DUBKIT_DATA_DIR": str(self.place / "server"),
            "DUBKIT_STORAGE_URL": self.storage_url,
            "DUBKIT_MAX_ACTIVE_JOBS_PER_OWNER": "0",
            "DUBKIT_UPLOAD_RATE_LIMIT": "0",
            "DUBKIT_API_RATE_LIMIT": "0",
        }
        log = (self.place / "server.log").open("a")
        self.server = subprocess.Popen(
            [DUBKIT, "serve", "--port", str(self.port), "--broker", self.redis_url],
            env=env,
            stdout=log,
            stderr=log,
        )
        log.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"

    def stop(self) -> None:
        procs = [w.proc for w in self.workers.values()] + ([self.server] if self.server else [])
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class Sampler(threading.Thread):
    """Every 0.1 s: jobs waiting (in the queue, or held behind another job in a worker) against idle live
    workers; and when each killed worker's held messages went back to the queue."""

    def __init__(self, cluster: Cluster, client: redis.Redis) -> None:
        super().__init__(name="sampler", daemon=True)
        self.cluster = cluster
        self.client = client
        self.stop = threading.Event()
        self.idle_while_waiting_s = 0.0
        self.episodes: list[float] = []
        self._episode = 0.0
        self.dead: dict[str, float | None] = {}  # a killed consumer -> when its held messages were requeued
        self.samples = 0

    def run(self) -> None:
        queue = f"dramatiq:{QUEUE_NAME}"
        last = time.monotonic()
        while not self.stop.wait(0.1):
            live = [w for w in self.cluster.workers.values() if w.ready.is_set() and w.alive]
            pipe = self.client.pipeline(transaction=False)
            pipe.llen(queue)
            for worker in live:
                pipe.scard(acks_key(worker.consumer, QUEUE_NAME))
            dead = [c for c, at in self.dead.items() if at is None]
            for consumer in dead:
                pipe.exists(acks_key(consumer, QUEUE_NAME))
            replies = pipe.execute()
            now = time.monotonic()
            step, last = now - last, now
            held = replies[1 : 1 + len(live)]
            waiting = replies[0] + sum(max(0, h - 1) for h in held)
            idle = sum(1 for h in held if h == 0)
            if min(waiting, idle) > 0:
                self.idle_while_waiting_s += step * min(waiting, idle)
                self._episode += step
            elif self._episode:
                self.episodes.append(self._episode)
                self._episode = 0.0
            for consumer, exists in zip(dead, replies[1 + len(live) :], strict=True):
                if not exists:
                    self.dead[consumer] = time.time()
            self.samples += 1


def running_consumers(client: redis.Redis) -> set[str]:
    """The workers running a job now: a ``claimed`` event on the stream without a final one yet."""
    claimed: dict[tuple[str, int], str] = {}
    ended: set[tuple[str, int]] = set()
    for _, fields in client.xrevrange(EVENTS_STREAM, count=500):
        event, _ = decode_event(fields[b"event"])
        if event.state.final:
            ended.add((event.job_id, event.attempt))
        elif event.state is JobEventState.CLAIMED and " on " in event.message:
            claimed[(event.job_id, event.attempt)] = event.message.rsplit(" on ", 1)[1]
    return {consumer for key, consumer in claimed.items() if key not in ended}


def settle(client: redis.Redis, timeout: float = 90.0) -> float:
    """Wait until no message is left anywhere (queued, held, or held by a dead worker); returns the wait."""
    began = time.monotonic()
    while client.hlen(f"dramatiq:{QUEUE_NAME}.msgs") and time.monotonic() - began < timeout:
        time.sleep(0.2)
    time.sleep(0.5)  # the acknowledgement's clean-up
    return round(time.monotonic() - began, 2)


def upload(client: httpx.Client, url: str, video: Path) -> str:
    with video.open("rb") as handle:
        reply = client.post(
            f"{url}/upload",
            files={"file": ("talk.mp4", handle, "video/mp4")},
            data={"source_language": "en", "target_language": "es"},
            timeout=60,
        )
    reply.raise_for_status()
    return str(reply.json()["jobs"][0]["id"])


def job_states(url: str) -> dict[str, dict[str, Any]] | None:
    """Every job the server knows, or None while it is down."""
    try:
        reply = httpx.get(f"{url}/jobs", params={"limit": 1000}, timeout=5)
        reply.raise_for_status()
    except httpx.HTTPError:
        return None
    return {job["id"]: job for job in reply.json()["jobs"]}


def chaos(place: Path, *, jobs: int, kills: int, sleep: float, seed: int = 11) -> dict[str, Any]:
    sample = make_sample_video(place / "talk.mp4", script=(("en+m3", "Good morning and welcome."),))
    config = place / "standin.json"
    config.write_text(json.dumps({**STANDIN, "backend_options": {"transcriber": {"sleep": sleep}}}))
    (place / "redis").mkdir()
    rng = random.Random(seed)
    with redis_server(place / "redis") as redis_url:
        client = redis.Redis.from_url(redis_url)
        cluster = Cluster(place, redis_url, config, slots=3)
        JobStore(
            place / "server" / "jobs.db"
        ).open().close()  # the schema, then a trigger counting completions
        with sqlite3.connect(place / "server" / "jobs.db") as conn:
            conn.executescript(COMPLETIONS_TRIGGER)
        cluster.start_server()
        for slot in range(cluster.slots):
            cluster.start_worker(slot)
        for worker in cluster.workers.values():
            worker.ready.wait(120)
        sampler = Sampler(cluster, client)
        sampler.start()
        started = time.time()
        with httpx.Client() as http:
            ids = [upload(http, cluster.url, sample.path) for _ in range(jobs)]
        uploaded = time.time() - started
        kill_log: list[dict[str, Any]] = []
        server_kill: dict[str, float] = {}
        next_kill = time.monotonic() + rng.uniform(4, 10)
        deadline = time.monotonic() + 420
        states: dict[str, dict[str, Any]] = {}
        while True:
            now = time.monotonic()
            got = job_states(cluster.url)
            if got is not None:
                states = got
            done = sum(
                1 for j in ids if states.get(j, {}).get("status") in ("completed", "failed", "cancelled")
            )
            if done == len(ids):
                break
            if now > deadline:
                break
            if not server_kill and done >= len(ids) * 0.35 and cluster.server is not None:
                cluster.server.send_signal(signal.SIGKILL)
                cluster.server.wait()
                server_kill["at"] = time.time()
                time.sleep(2.0)  # down for a moment, as a crashed server that is restarted
                cluster.start_server()
                server_kill["back_after_s"] = round(time.time() - server_kill["at"], 2)
            if len(kill_log) < kills and now >= next_kill:
                live = [w for w in cluster.workers.values() if w.ready.is_set() and w.alive]
                running = running_consumers(client)
                holding = [w for w in live if w.consumer in running]
                if holding:
                    victim = rng.choice(holding)
                    victim.proc.send_signal(signal.SIGKILL)
                    victim.proc.wait()
                    at = time.time()
                    sampler.dead[victim.consumer] = None
                    kill_log.append({"at": at, "consumer": victim.consumer, "at_s": round(at - started, 1)})
                    cluster.start_worker(victim.slot)  # restarted on its own folder
                next_kill = now + rng.uniform(6, 14)
            time.sleep(0.25)
        wall = time.time() - started
        settled = settle(client)  # a killed worker's last message may still wait for its redelivery
        sampler.stop.set()
        sampler.join()
        bytes_running = {f"worker{s}": folder_bytes(cluster.data(s) / "worker") for s in range(cluster.slots)}
        events = stream_events(client)
        keys = sorted(k.decode() for k in client.keys("*"))
        key_types = {k: client.type(k).decode() for k in keys}
        heartbeats = client.zcard("dramatiq:__heartbeats__")
        stream_length = client.xlen(EVENTS_STREAM)
        cluster.stop()
        client.close()
    bytes_stopped = {f"worker{s}": folder_bytes(cluster.data(s) / "worker") for s in range(cluster.slots)}
    with sqlite3.connect(place / "server" / "jobs.db") as conn:
        completions = dict(
            conn.execute("SELECT job_id, COUNT(*) FROM completions GROUP BY job_id").fetchall()
        )
    return analyse(
        ids=ids,
        states=states,
        events=events,
        kill_log=kill_log,
        sampler=sampler,
        completions=completions,
        extra={
            "jobs": jobs,
            "workers": cluster.slots,
            "worker_threads": 1,
            "standin_transcriber_sleep_s": sleep,
            "uploads_s": round(uploaded, 2),
            "wall_s": round(wall, 2),
            "queue_settled_after_last_job_s": settled,
            "server_killed": {k: round(v, 2) for k, v in server_kill.items() if k != "at"}
            | {"at_s": round(server_kill.get("at", started) - started, 2)},
            "redis_keys_after_all_jobs_ended": {k: key_types[k] for k in keys},
            "per_job_keys_after_all_jobs_ended": [k for k in keys if k.startswith(PER_JOB_PREFIXES)],
            "heartbeat_entries_after": heartbeats,
            "event_stream_entries": stream_length,
            "work_folder_bytes_after_last_job": bytes_running,
            "work_folder_bytes_after_stop": bytes_stopped,
        },
    )


def analyse(
    *,
    ids: list[str],
    states: dict[str, dict[str, Any]],
    events: list[tuple[float, JobEvent]],
    kill_log: list[dict[str, Any]],
    sampler: Sampler,
    completions: dict[str, int],
    extra: dict[str, Any],
) -> dict[str, Any]:
    by_job: dict[str, list[tuple[float, JobEvent]]] = defaultdict(list)
    for at, event in events:
        by_job[event.job_id].append((at, event))
    finals = {(e.job_id, e.attempt) for _, e in events if e.state.final}
    recoveries = []
    for kill in kill_log:
        claims = [
            (at, e)
            for at, e in events
            if e.state is JobEventState.CLAIMED
            and e.message.endswith(f" on {kill['consumer']}")
            and at < kill["at"]
        ]
        running = [(at, e) for at, e in claims if (e.job_id, e.attempt) not in finals]
        if not running:
            recoveries.append({"killed_at_s": kill["at_s"], "job": None})
            continue
        _, held = running[-1]
        again = [
            at
            for at, e in by_job[held.job_id]
            if e.state is JobEventState.CLAIMED and e.attempt > held.attempt
        ]
        requeued = sampler.dead.get(kill["consumer"])
        recoveries.append(
            {
                "killed_at_s": kill["at_s"],
                "job": held.job_id,
                "attempt": held.attempt,
                "back_in_queue_s": None if requeued is None else round(requeued - kill["at"], 2),
                "running_again_s": round(again[0] - kill["at"], 2) if again else None,
            }
        )
    completed_events = {
        j: len({e.attempt for _, e in by_job[j] if e.state is JobEventState.COMPLETED}) for j in ids
    }
    statuses = {j: states.get(j, {}).get("status") for j in ids}
    retried = [states[j] for j in ids if len(states.get(j, {}).get("attempts", [])) > 1]
    running_again = [r["running_again_s"] for r in recoveries if r.get("running_again_s") is not None]
    return {
        **{k: v for k, v in extra.items() if not k.startswith(LATER)},
        "jobs_completed": sum(1 for s in statuses.values() if s == "completed"),
        "jobs_lost": sum(1 for s in statuses.values() if s != "completed"),
        "jobs_produced_twice": sum(1 for n in completed_events.values() if n > 1),
        "store_completions_per_job_max": max(completions.values(), default=0),
        "kills": len(kill_log),
        "recoveries": recoveries,
        "kill_to_running_again_s_max": max(running_again, default=None),
        "target_kill_to_running_again_s": 30.0,
        "worker_idle_while_jobs_waited_s": round(sampler.idle_while_waiting_s, 2),
        "idle_episodes": len(sampler.episodes),
        "idle_episode_longest_s": round(max(sampler.episodes, default=0.0), 2),
        "idle_episodes_over_1s": sum(1 for e in sampler.episodes if e > 1.0),
        "redis_samples": sampler.samples,
        "processing_time_of_retried_jobs": [
            {
                "attempts": [(a["attempt"], round(a["seconds"], 1), a["outcome"]) for a in job["attempts"]],
                "processing_time_seconds": job["processing_time_seconds"],
            }
            for job in retried
        ],
        **{k: v for k, v in extra.items() if k.startswith(LATER)},
    }


# --- (b) cancel latency ------------------------------------------------------------------------------------


class Server:
    """This process as the server: a store, the runner's send and cancel, an applier timing every event."""

    def __init__(self, place: Path, redis_url: str) -> None:
        self.store = JobStore(place / "jobs.db").open()
        self.broker = make_broker(redis_url)
        self.storage = FsspecStorage((place / "files").as_uri())
        self.runner = DistributedRunner(self.store, self.broker, self.storage.url)
        self.applier = EventApplier(self.store, redis_url, storage=self.storage)
        self.events: list[tuple[float, JobEvent]] = []
        self.applier.subscribe(lambda e: self.events.append((time.time(), e)))

    def send(self, job_id: str, video: Path) -> None:
        key = job_key("bench", job_id, "input")
        record = self.store.create(
            {
                "id": job_id,
                "user_id": "bench",
                "original_filename": "talk.mp4",
                "source_language": "en",
                "target_language": "es",
                "input_path": key,
                "input_size": self.storage.put_file(video, key),
            }
        )
        self.runner.enqueue(record)

    def wait(self, found: Any, timeout: float = 300) -> tuple[float, JobEvent]:
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for item in self.events[seen:]:
                if found(item[1]):
                    return item
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise TimeoutError("no such event")
            self.applier.poll(block_ms=20)

    def close(self) -> None:
        self.applier.close()
        self.broker.close()
        self.store.close()


def cancel_latency(place: Path) -> dict[str, Any]:
    sample = make_sample_video(place / "talk.mp4")
    (place / "redis").mkdir()
    with redis_server(place / "redis") as redis_url:
        client = redis.Redis.from_url(redis_url)
        env = {**os.environ, "DUBKIT_DATA_DIR": str(place / "worker")}
        log = (place / "worker.log").open("a")
        worker = subprocess.Popen(
            [DUBKIT, "worker", "--broker", redis_url], env=env, stdout=subprocess.PIPE, stderr=log, text=True
        )
        log.close()
        assert worker.stdout is not None and "worker ready" in worker.stdout.readline()
        server = Server(place, redis_url)
        try:
            # a first job warms the models and times each stage
            server.send("warm", sample.path)
            server.wait(lambda e: e.job_id == "warm" and e.state.final)
            starts = {
                e.stage: at
                for at, e in server.events
                if e.job_id == "warm" and e.state is JobEventState.STARTED
            }
            ends = {
                e.stage: at
                for at, e in server.events
                if e.job_id == "warm" and e.state is JobEventState.FINISHED
            }
            durations = {stage: round(ends[stage] - starts[stage], 2) for stage in STAGES}
            rows = {}
            for stage in STAGES:
                job_id = f"cancel-{stage}"
                server.send(job_id, sample.path)
                server.wait(
                    lambda e, j=job_id, s=stage: (
                        e.job_id == j and e.stage == s and e.state is JobEventState.STARTED
                    )
                )
                time.sleep(min(durations[stage] * 0.4, 3.0))  # part way into the stage
                asked = time.time()
                server.runner.cancel(job_id, "bench")
                at, final = server.wait(lambda e, j=job_id: e.job_id == j and e.state.final)
                running = [
                    e.stage
                    for _, e in server.events
                    if e.job_id == job_id and e.state is JobEventState.STARTED
                ]
                outputs = server.storage.list(f"bench/{job_id}")
                rows[stage] = {
                    "stage_seconds": durations[stage],
                    "cancelled_after_s": round(at - asked, 2),
                    "stopped_in": running[-1] if running else None,
                    "final": final.state.value,
                    "files_left_in_storage": [k for k in outputs if not k.endswith("/input")],
                    "work_folder_bytes": swept_bytes(place / "worker" / "worker"),
                }
            keys = sorted(k.decode() for k in client.keys("dubkit:*") if k.decode() != EVENTS_STREAM)
        finally:
            server.close()
            worker.send_signal(signal.SIGTERM)
            worker.communicate(timeout=60)
            client.close()
    return {
        "backends": "default offline stack: separator none, vad silero, diarizer resemblyzer, transcriber "
        "faster-whisper base, translator apertium, synthesizer espeak-ng",
        "media_seconds": round(sample.duration, 2),
        "worker_cancel_check_s": 0.25,
        "stages": rows,
        "max_s": max(r["cancelled_after_s"] for r in rows.values()),
        "target_s": 2.0,
        "per_job_keys_left": keys,
    }


def _cancel_separation(pipeline: Any, video: Path, run_dir: Path, delay: float) -> dict[str, float]:
    """Run ``pipeline`` (probe, extract, separate) and cancel it ``delay`` seconds into the separation."""
    from dubkit.errors import CancelledError
    from dubkit.pipeline.progress import CancelToken, ProgressEvent, ProgressState

    token = CancelToken()
    started = threading.Event()
    asked: list[float] = []

    def hook(event: ProgressEvent) -> None:
        if event.stage == "separate" and event.state is ProgressState.STARTED:
            started.set()

    def cancel_later() -> None:
        started.wait(300)
        time.sleep(delay)
        asked.append(time.monotonic())
        token.cancel()

    thread = threading.Thread(target=cancel_later)
    thread.start()
    stopped = float("nan")
    try:
        pipeline.run(video, to="es", source_language="en", run_dir=run_dir, progress=hook, cancel=token)
    except CancelledError:
        stopped = time.monotonic()
    thread.join()
    return {"cancel_after_s_in_stage": delay, "stopped_after_s": round(stopped - asked[0], 2)}


def demucs_cancel(place: Path) -> dict[str, Any]:
    """A demucs separation with an htdemucs-sized model, cancelled inside a model segment (pipeline level)."""
    import torch  # noqa: TID251 (a model is built here, not run)
    from demucs.htdemucs import HTDemucs

    from dubkit import PipelineConfig, build_pipeline
    from dubkit.backends import BackendKind
    from dubkit.pipeline import Pipeline

    torch.manual_seed(0)
    model = HTDemucs(sources=["drums", "bass", "other", "vocals"], segment=7.8)  # htdemucs's size and segment
    args, kwargs = model._init_args_kwargs
    path = place / "htdemucs-sized.th"
    torch.save({"klass": HTDemucs, "args": args, "kwargs": kwargs, "state": model.state_dict()}, path)
    params = sum(p.numel() for p in model.parameters())
    del model
    sample = make_sample_video(place / "talk.mp4")
    config = PipelineConfig(separator="demucs", backend_options={BackendKind.SEPARATOR: {"model": str(path)}})
    runs = []
    with build_pipeline(config) as full, Pipeline(full.stages[:3]) as pipeline:
        for delay in (3.0, 9.0):
            runs.append(_cancel_separation(pipeline, sample.path, place / f"run{delay}", delay))
    path.unlink()
    return {
        "model": f"HTDemucs, {params / 1e6:.1f} M parameters, random weights, segment 7.8 s",
        "runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["chaos", "cancel", "all"], default="all")
    parser.add_argument("--jobs", type=int, default=24)
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--sleep", type=float, default=5.0)
    args = parser.parse_args()
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    results["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    results["python"] = sys.version.split()[0]
    began = time.monotonic()
    load = [round(os.getloadavg()[0], 2)]
    if args.part in ("chaos", "all"):
        with tempfile.TemporaryDirectory() as tmp:
            results["chaos"] = chaos(Path(tmp), jobs=args.jobs, kills=args.kills, sleep=args.sleep)
    if args.part in ("cancel", "all"):
        with tempfile.TemporaryDirectory() as tmp:
            results["cancel_latency"] = cancel_latency(Path(tmp))
        with tempfile.TemporaryDirectory() as tmp:
            results["cancel_latency"]["separate_demucs_pipeline_level"] = demucs_cancel(Path(tmp))
    load.append(round(os.getloadavg()[0], 2))
    results["run"] = {"part": args.part, "wall_s": round(time.monotonic() - began, 1), "load_average": load}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
