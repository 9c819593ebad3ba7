"""Whole-dub speed and memory on generated talks: per-stage seconds, real-time factors, peak RSS.

Each dub runs as ``dubkit dub`` in a fresh process (process start and model loading included), on
the default offline stack. Results go to ``benchmarks/results/dub.json``.

Run: .venv/bin/python benchmarks/bench_dub.py [--minutes 1 10]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dubkit.testing.sample_video import lecture_script, make_sample_video

RESULTS = Path(__file__).parent / "results" / "dub.json"


def _run_dub(video: Path, out: Path) -> tuple[float, int]:
    exe = shutil.which("dubkit", path=str(Path(sys.executable).parent)) or "dubkit"
    started = time.perf_counter()
    proc = subprocess.Popen([exe, "dub", str(video), "--to", "es", "-o", str(out)], stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"dub of {video} failed")
    return wall, usage.ru_maxrss * 1024  # Linux reports KiB


def bench(minutes: float, folder: Path) -> dict[str, object]:
    video = folder / f"talk-{minutes:g}min.mp4"
    sample = make_sample_video(video, script=lecture_script(minutes))
    load_before = os.getloadavg()[0]
    wall, peak = _run_dub(video, folder / "out")
    project = json.loads((folder / "out" / f"{video.stem}.es.dub.json").read_text())
    stages = project["quality"]["stage_seconds"]
    transcribe = stages.get("transcribe", 0.0)
    others = sum(v for k, v in stages.items() if k != "transcribe")
    return {
        "media_seconds": round(sample.duration, 1),
        "segments": len(project["segments"]),
        "wall_seconds": round(wall, 2),
        "real_time_factor": round(wall / sample.duration, 4),
        "peak_rss_mb": round(peak / 2**20, 1),
        "stage_seconds": stages,
        "stage_real_time_factor": project["quality"]["real_time_factor"],
        "other_stages_over_transcription": round(others / transcribe, 3) if transcribe else None,
        # The machine's 1-minute load average before and after: figures taken on a busy machine are slower.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "targets": {"real_time_factor": 0.15, "other_stages_over_transcription": 0.25, "peak_rss_mb": 1024},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0])
    args = parser.parse_args()
    results: dict[str, object] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "runs": {}}
    with tempfile.TemporaryDirectory(prefix="dubkit-bench-") as tmp:
        for minutes in args.minutes:
            run = bench(minutes, Path(tmp) / f"{minutes:g}")
            results["runs"][f"{minutes:g}min"] = run  # type: ignore[index]
            print(f"{minutes:g} min: {json.dumps(run)}", flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
