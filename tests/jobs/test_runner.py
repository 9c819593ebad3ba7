"""The in-process runner on a real SQLite store, real local storage, real media and a real (fast) pipeline.

The speech backends are the fast stand-ins of ``tests/pipeline/test_incremental.py``: the energy VAD, the
single-speaker diarizer, a transcriber registered in code (or the stand-in plugin's, for the warm-backend
tests), and the sample plugin's ``shout`` translator and ``sine-voice`` synthesizer. Every test runs with
storage on local disk and on a real S3 endpoint (moto's server).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from distributed_backends import config as standin_config
from dubkit_standin_plugin.transcriber import RegionTranscriber as StandinTranscriber

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import BaseTranscriber, NoOptions, Registry
from dubkit.errors import JobError
from dubkit.jobs import JobStore
from dubkit.jobs.events import JobEvent, JobEventState
from dubkit.jobs.pipelines import WarmPipelines
from dubkit.jobs.runner import InProcessRunner
from dubkit.models import AudioFile, SpeechRegion, Transcript, TranscriptSegment
from dubkit.models.job import JobRecord, JobStatus
from dubkit.pipeline.pipeline import Pipeline
from dubkit.storage import FsspecStorage, job_key, job_prefix
from dubkit.testing import SampleVideo, make_sample_video

OWNER = "alice"
CONFIG = PipelineConfig(
    vad="energy", diarizer="single", transcriber="regions", translator="shout", synthesizer="sine-voice"
)
OUTPUT_NAMES = ["talk.es.dub.json", "talk.es.mp4", "talk.es.srt", "talk.es.vtt"]


class RegionTranscriber(BaseTranscriber[NoOptions]):
    """One segment per region."""

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        return Transcript(
            language=language or "en",
            segments=tuple(
                TranscriptSegment(id=f"r{i}", start=r.start, end=r.end, text=f"this is line number {i}")
                for i, r in enumerate(regions)
            ),
        )


class CrashingTranscriber(BaseTranscriber[NoOptions]):
    """A transcriber whose model always crashes (a transient-looking error)."""

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        raise RuntimeError("model crashed")


class SlowTranscriber(RegionTranscriber):
    """Takes a second, during which no cancel is seen."""

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        time.sleep(1.0)
        return super().transcribe(audio, regions, language)


def make_pipeline(transcriber: type[BaseTranscriber[NoOptions]] = RegionTranscriber) -> Pipeline:
    registry = Registry()
    registry.register("transcriber", "regions", transcriber)
    return build_pipeline(CONFIG, registry=registry)


class Events:
    """A subscriber that keeps every event, per job."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.all: list[JobEvent] = []
        self.hooks: list[Callable[[JobEvent], None]] = []

    def __call__(self, event: JobEvent) -> None:
        with self.lock:
            self.all.append(event)
        for hook in self.hooks:
            hook(event)

    def of(self, job_id: str) -> list[JobEvent]:
        with self.lock:
            return [e for e in self.all if e.job_id == job_id]

    def states(self, job_id: str) -> list[JobEventState]:
        return [e.state for e in self.of(job_id)]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    return make_sample_video(tmp_path_factory.mktemp("media") / "talk.mp4")


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def make_runner(
    db_path: Path, storage: FsspecStorage, tmp_path: Path, events: Events
) -> Callable[..., InProcessRunner]:
    def make(**options: object) -> InProcessRunner:
        factory = options.pop("pipeline_factory", make_pipeline)
        settings: dict[str, object] = {"work_root": tmp_path / "work", "poll_seconds": 0.1, **options}
        runner = InProcessRunner(db_path, storage, factory, **settings)  # type: ignore[arg-type]
        runner.subscribe(events)
        return runner

    return make


def upload(
    store: JobStore,
    storage: FsspecStorage,
    job_id: str,
    source: Path | bytes,
    backends: dict[str, str] | None = None,
) -> JobRecord:
    key = job_key(OWNER, job_id, "input")
    if isinstance(source, Path):
        size = storage.put_file(source, key)
    else:
        with storage.open_write(key) as handle:
            handle.write(source)
        size = len(source)
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


def outputs(storage: FsspecStorage, job_id: str) -> list[str]:
    prefix = job_prefix(OWNER, job_id) + "output/"
    return [k.removeprefix(prefix) for k in storage.list(prefix)]


def assert_ordered(events: list[JobEvent]) -> None:
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions), fractions
    assert all(0.0 <= f <= 1.0 for f in fractions)


def test_a_job_is_dubbed_uploaded_and_completed(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    make_runner: Callable[..., InProcessRunner],
    events: Events,
    tmp_path: Path,
) -> None:
    seen: dict[str, JobRecord] = {}

    def look(event: JobEvent) -> None:  # reads the store from the worker thread, as a client would
        if event.state in (JobEventState.STARTED, JobEventState.UPLOADING) and event.state.value not in seen:
            with JobStore(db_path) as reader:
                seen[event.state.value] = reader.get(event.job_id)

    events.hooks.append(look)
    with JobStore(db_path) as store:
        assert upload(store, storage, "j1", sample.path).status is JobStatus.UPLOADED
        with make_runner():  # start() ... stop()
            deadline = time.monotonic() + 30
            while not store.get("j1").status.finished and time.monotonic() < deadline:
                time.sleep(0.05)
        record = store.get("j1")

    assert record.status is JobStatus.COMPLETED, record.error_message
    assert seen["started"].status is JobStatus.PROCESSING
    assert seen["uploading"].stage == "mux"  # the store followed the stages
    assert seen["uploading"].progress == pytest.approx(1.0)
    assert outputs(storage, "j1") == OUTPUT_NAMES
    assert record.output_path == job_prefix(OWNER, "j1") + "output/talk.es.mp4"
    assert record.output_size == storage.size(record.output_path) > 0
    assert record.processing_time_seconds is not None and record.processing_time_seconds > 0
    assert record.attempts == 1 and record.progress == 1.0

    got = events.of("j1")
    assert_ordered(got)
    assert got[0].state is JobEventState.CLAIMED
    assert got[-1].state is JobEventState.COMPLETED and got[-1].fraction == 1.0
    stages = [e.stage for e in got if e.state is JobEventState.FINISHED]
    assert stages[0] == "probe" and stages[-1] == "mux" and len(stages) == 11
    assert not (tmp_path / "work" / "j1").exists()  # the work folder is removed


def test_a_bad_input_fails_for_good_beside_a_good_job(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    make_runner: Callable[..., InProcessRunner],
    events: Events,
) -> None:
    with JobStore(db_path) as store:
        upload(store, storage, "bad", bytes(range(256)) * 64)
        upload(store, storage, "good", sample.path)
        stats = make_runner().run_until_idle()
        bad, good = store.get("bad"), store.get("good")

    assert (stats.completed, stats.failed, stats.retried) == (1, 1, 0)
    assert bad.status is JobStatus.FAILED
    assert bad.attempts == 1
    assert bad.error_message and "media" in bad.error_message.lower()
    assert events.of("bad")[-1].state is JobEventState.FAILED
    assert events.of("bad")[-1].message == bad.error_message
    assert outputs(storage, "bad") == []
    assert good.status is JobStatus.COMPLETED
    assert outputs(storage, "good") == OUTPUT_NAMES


def test_a_job_cancelled_while_running_stops_and_uploads_nothing(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    make_runner: Callable[..., InProcessRunner],
    events: Events,
    tmp_path: Path,
) -> None:
    def cancel_at_synthesis(event: JobEvent) -> None:
        if event.stage == "synthesize" and event.state is JobEventState.STARTED:
            with JobStore(db_path) as client:
                client.request_cancel(event.job_id, OWNER)
            time.sleep(0.5)  # the heartbeat thread notices within cancel_check_seconds

    events.hooks.append(cancel_at_synthesis)
    with JobStore(db_path) as store:
        upload(store, storage, "c1", sample.path)
        stats = make_runner(cancel_check_seconds=0.1).run_until_idle()
        record = store.get("c1")

    assert stats.cancelled == 1 and stats.completed == 0
    assert record.status is JobStatus.CANCELLED
    assert outputs(storage, "c1") == []
    assert storage.list(job_prefix(OWNER, "c1")) == [job_key(OWNER, "c1", "input")]
    states = events.states("c1")
    assert states[-1] is JobEventState.CANCELLED
    assert JobEventState.UPLOADING not in states
    assert not (tmp_path / "work" / "c1").exists()


def test_a_job_whose_worker_died_is_claimed_again_and_completed_once(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    make_runner: Callable[..., InProcessRunner],
    events: Events,
) -> None:
    with JobStore(db_path) as store:
        upload(store, storage, "d1", sample.path)
        dead = store.claim("dead-worker", lease_seconds=1.0)  # and never heartbeats
        assert dead is not None
        runner = make_runner(lease_seconds=1.5)
        assert runner.run_until_idle().total == 0  # the lease still holds
        time.sleep(1.1)
        stats = runner.run_until_idle()
        record = store.get("d1")
        with pytest.raises(JobError):  # the dead worker's token no longer counts
            store.complete("d1", dead.token, output_path="x", output_size=1, processing_time=1.0)

    assert stats.completed == 1 and stats.total == 1
    assert record.status is JobStatus.COMPLETED
    assert record.attempts == 2
    assert events.states("d1").count(JobEventState.COMPLETED) == 1
    assert outputs(storage, "d1") == OUTPUT_NAMES


def test_two_workers_complete_each_job_exactly_once(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    make_runner: Callable[..., InProcessRunner],
    events: Events,
) -> None:
    ids = [f"m{i}" for i in range(4)]
    with JobStore(db_path) as store:
        for job_id in ids:
            upload(store, storage, job_id, sample.path)
        stats = make_runner(workers=2).run_until_idle()
        records = [store.get(job_id) for job_id in ids]

    assert stats.completed == 4 and stats.total == 4
    assert all(r.status is JobStatus.COMPLETED and r.attempts == 1 for r in records)
    completed: dict[str, int] = defaultdict(int)
    workers = set()
    for event in events.all:
        if event.state is JobEventState.COMPLETED:
            completed[event.job_id] += 1
        if event.state is JobEventState.CLAIMED:
            workers.add(event.message.split(",")[0])
    assert completed == dict.fromkeys(ids, 1)
    assert len(workers) == 2  # both threads worked
    for job_id in ids:
        assert_ordered(events.of(job_id))
        assert outputs(storage, job_id) == OUTPUT_NAMES


def test_a_failing_backend_is_retried_then_dead_lettered(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    make_runner: Callable[..., InProcessRunner],
    events: Events,
) -> None:
    with JobStore(db_path) as store:
        upload(store, storage, "r1", sample.path)
        runner = make_runner(pipeline_factory=lambda: make_pipeline(CrashingTranscriber), max_attempts=2)
        stats = runner.run_until_idle()
        record = store.get("r1")

    assert (stats.retried, stats.failed, stats.completed) == (1, 1, 0)
    assert record.status is JobStatus.FAILED and record.attempts == 2
    assert record.dead_lettered_at is not None
    assert record.error_message and "model crashed" in record.error_message
    states = events.states("r1")
    assert states.count(JobEventState.CLAIMED) == 2
    assert [s for s in states if s.final] == [JobEventState.RETRYING, JobEventState.FAILED]


def test_stop_interrupts_a_job_past_the_timeout_and_requeues_it(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    make_runner: Callable[..., InProcessRunner],
    events: Events,
) -> None:
    transcribing = threading.Event()
    events.hooks.append(
        lambda e: transcribing.set() if e.stage == "transcribe" and e.state is JobEventState.STARTED else None
    )
    with JobStore(db_path) as store:
        upload(store, storage, "s1", sample.path)
        runner = make_runner(pipeline_factory=lambda: make_pipeline(SlowTranscriber)).start()
        assert transcribing.wait(20)
        assert runner.stop(timeout=0.2)
        record = store.get("s1")

    assert not runner.running
    assert record.status is JobStatus.UPLOADED and record.attempts == 1
    assert record.error_message == "the runner stopped before the job finished"
    assert events.states("s1")[-1] is JobEventState.RETRYING
    assert outputs(storage, "s1") == []


def test_warm_backends_load_once_across_jobs_and_per_job_choices_load_only_what_differs(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    make_runner: Callable[..., InProcessRunner],
    events: Events,
) -> None:
    pipelines = WarmPipelines(standin_config())
    before = StandinTranscriber.loads
    with JobStore(db_path) as store:
        upload(store, storage, "w1", sample.path)
        upload(store, storage, "w2", sample.path)
        upload(store, storage, "w3", sample.path, backends={"transcriber": "standin-regions-b"})
        stats = make_runner(pipeline_factory=pipelines).run_until_idle()  # one thread: w1, w2, w3 in turn
        records = [store.get(j) for j in ("w1", "w2", "w3")]
    warm = pipelines.cache.stats

    assert stats.completed == 3
    assert all(r.status is JobStatus.COMPLETED for r in records), [r.error_message for r in records]
    # w1 bound 7 backends (the named synthesizer comes with espeak-ng after it, for lines it cannot say)
    # and loaded the 6 it used; w2 reused all 7; w3 chose another transcriber: only that one was loaded
    assert StandinTranscriber.loads - before == 2
    assert (warm.loads, warm.hits) == (7, 7 + 6)
    assert (
        warm.entries == 0 and warm.evictions == 8
    )  # the runner closed its warm backends (all 8) when it ended
    finished = [e.stage for e in events.of("w3") if e.state is JobEventState.FINISHED]
    assert len(finished) == 11


def test_an_unknown_backend_choice_fails_that_job_not_the_worker(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    make_runner: Callable[..., InProcessRunner],
) -> None:
    with JobStore(db_path) as store:
        upload(store, storage, "bad", sample.path, backends={"translator": "babelfish"})
        upload(store, storage, "odd", sample.path, backends={"mixer": "loud"})
        upload(store, storage, "good", sample.path)
        stats = make_runner(pipeline_factory=WarmPipelines(standin_config())).run_until_idle()
        bad, odd, good = store.get("bad"), store.get("odd"), store.get("good")

    assert (stats.failed, stats.completed, stats.retried) == (2, 1, 0)
    assert bad.status is JobStatus.FAILED and bad.attempts == 1
    assert bad.error_message is not None and "babelfish" in bad.error_message
    assert odd.status is JobStatus.FAILED and odd.error_message is not None
    assert "unknown backend choice 'mixer'" in odd.error_message
    assert good.status is JobStatus.COMPLETED
    assert outputs(storage, "bad") == [] and outputs(storage, "odd") == []


def test_a_cancel_requested_after_the_last_check_still_wins_over_completion(
    db_path: Path,
    storage: FsspecStorage,
    sample: SampleVideo,
    make_runner: Callable[..., InProcessRunner],
    events: Events,
) -> None:
    def cancel_while_uploading(event: JobEvent) -> None:  # the lease keeper checks only every 30 s here
        if event.state is JobEventState.UPLOADING:
            with JobStore(db_path) as client:
                client.request_cancel(event.job_id, OWNER)

    events.hooks.append(cancel_while_uploading)
    with JobStore(db_path) as store:
        upload(store, storage, "late", sample.path)
        stats = make_runner(lease_seconds=90, cancel_check_seconds=30).run_until_idle()
        record = store.get("late")

    assert (stats.cancelled, stats.completed) == (1, 0)
    assert record.status is JobStatus.CANCELLED
    assert record.completed_at is None and record.output_path is None
    assert outputs(storage, "late") == []  # the uploaded outputs were removed
    assert events.states("late")[-1] is JobEventState.CANCELLED
    assert JobEventState.COMPLETED not in events.states("late")
