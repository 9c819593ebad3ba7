"""Jobs benchmark: chaos against a clean run, warm models across real dubs, claims under contention.

(a) The chaos test's cluster (``tests/jobs/chaos_harness.py``: real Redis, 3 warm-forked worker processes
    with the fast stand-in backends) runs 60 jobs cleanly, then the same 60 jobs with a random worker
    SIGKILLed every 0.5 s and restarted; target: chaos wall time at most 2x the clean one.
(b) An in-process worker (one thread, `WarmPipelines` on the default backends: faster-whisper base, silero,
    resemblyzer, apertium, espeak-ng) dubs two real jobs in turn; for each, the time from its claim to its
    first transcribed chunk, and how many backends it loaded. The second should load none.
(c) Claims per second under 8-process contention: ``benchmarks/bench_claims.py`` is run as it is (it writes
    ``claims.json``) and its figures are copied here.

Run: .venv/bin/python benchmarks/bench_jobs.py   (writes benchmarks/results/jobs.json; a few minutes)
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

from dubkit.jobs import JobStore
from dubkit.jobs.events import JobEvent, JobEventState
from dubkit.jobs.pipelines import WarmPipelines
from dubkit.jobs.runner import InProcessRunner
from dubkit.pipeline.build import PipelineConfig
from dubkit.storage import FsspecStorage, job_key
from dubkit.testing import make_sample_video

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "tests" / "jobs"))  # the chaos test's cluster
sys.path.insert(0, str(HERE.parent / "tests" / "support"))  # local_services: a real redis-server
sys.path.insert(0, str(HERE))

import bench_claims  # noqa: E402
from chaos_harness import in_stage_at_kill, run_jobs  # noqa: E402
from local_services import redis_server  # noqa: E402

CHAOS_JOBS = 60


def chaos_against_clean(tmp: Path) -> dict[str, object]:
    tmp.mkdir(parents=True)
    sample = make_sample_video(tmp / "talk.mp4", script=(("en+m3", "Good morning and welcome."),))
    (tmp / "redis").mkdir()
    out: dict[str, object] = {"jobs": CHAOS_JOBS, "workers": 3, "kill_every_s": 0.5}
    with redis_server(tmp / "redis") as url:
        (tmp / "clean").mkdir()
        clean = run_jobs(tmp / "clean", url, sample.path, jobs=CHAOS_JOBS, timeout=300)
    with redis_server(tmp / "redis") as url:
        (tmp / "chaos").mkdir()
        chaos = run_jobs(tmp / "chaos", url, sample.path, jobs=CHAOS_JOBS, kill_every=0.5, timeout=300)
    out.update(
        clean_wall_s=round(clean.wall_s, 2),
        chaos_wall_s=round(chaos.wall_s, 2),
        ratio=round(chaos.wall_s / clean.wall_s, 2),
        target_ratio=2.0,
        kills=len(chaos.kills),
        attempts_cut_mid_stage=in_stage_at_kill(chaos),
        attempts=sum(r.attempts for r in chaos.records.values()),
        completed_exactly_once=all(n == 1 for n in chaos.completions.values()),
    )
    return out


def warm_second_dub(tmp: Path) -> dict[str, object]:
    sample = make_sample_video(tmp / "talk.mp4")
    storage = FsspecStorage(str(tmp / "storage"))
    db = tmp / "jobs.db"
    ids = ["first", "second"]
    with JobStore(db) as store:
        for job_id in ids:
            key = job_key("bench", job_id, "input")
            store.create(
                {
                    "id": job_id,
                    "user_id": "bench",
                    "original_filename": "talk.mp4",
                    "source_language": "en",
                    "target_language": "es",
                    "input_path": key,
                    "input_size": storage.put_file(sample.path, key),
                }
            )
    pipelines = WarmPipelines(PipelineConfig())
    claimed: dict[str, float] = {}
    first_segment: dict[str, float] = {}
    loads_at_claim: dict[str, int] = {}
    loads_at_end: dict[str, int] = {}

    def watch(event: JobEvent) -> None:
        now = time.perf_counter()
        if event.state is JobEventState.CLAIMED:
            claimed[event.job_id] = now
            loads_at_claim[event.job_id] = pipelines.cache.stats.loads
        elif event.stage == "transcribe" and event.job_id not in first_segment:
            done = event.state is JobEventState.RUNNING and event.stage_fraction > 0
            if done or event.state is JobEventState.FINISHED:
                first_segment[event.job_id] = now
        elif event.state is JobEventState.COMPLETED:
            loads_at_end[event.job_id] = pipelines.cache.stats.loads

    runner = InProcessRunner(db, storage, pipelines, work_root=tmp / "work")
    runner.subscribe(watch)
    stats = runner.run_until_idle()
    assert stats.completed == 2, stats
    return {
        "backends": "separator none, vad silero, diarizer resemblyzer, transcriber faster-whisper (base), "
        "translator apertium, synthesizer espeak-ng",
        "media_seconds": round(sample.duration, 2),
        **{
            f"{job_id}_claim_to_first_segment_s": round(first_segment[job_id] - claimed[job_id], 2)
            for job_id in ids
        },
        **{f"{job_id}_backends_loaded": loads_at_end[job_id] - loads_at_claim[job_id] for job_id in ids},
    }


def main() -> None:
    results: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": sys.version.split()[0],
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["chaos_vs_clean"] = chaos_against_clean(Path(tmp) / "chaos")
    with tempfile.TemporaryDirectory() as tmp:
        results["warm_models"] = warm_second_dub(Path(tmp))
    bench_claims.main()
    claims = json.loads((HERE / "results" / "claims.json").read_text())
    results["claims_8_processes"] = {
        k: claims[k] for k in ("claims_per_s", "database_locked_errors", "double_claims", "wall_s", "claims")
    }
    path = HERE / "results" / "jobs.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
