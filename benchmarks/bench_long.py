"""Long videos: peak RSS and wall time of a whole dub against the input's duration.

Inputs of 1, 10, 30 and 120 minutes are made from one generated two-voice lecture (ten minutes, or
the input's length when shorter) looped over its cheap test-pattern video with ``ffmpeg
-stream_loop`` (packets copied, nothing re-encoded). Each dub runs as ``dubkit dub`` in a fresh
process on the default offline stack; its peak RSS is the kernel's ``ru_maxrss`` for that process.
Results go to ``benchmarks/results/long.json`` and a plot of both against duration to
``benchmarks/results/long.png``.

Targets (issue #9): peak RSS at 120 minutes at most 1.15x the peak at 10 minutes; wall time linear in
duration (reported as seconds per media minute for each input, and the ratio of the longest to the
10-minute input's). Each run also records its stage seconds and how many speakers the dub found (the
lecture has two voices, so two at every length shows the diarized chunks' speakers were linked).

Run: .venv/bin/python benchmarks/bench_long.py [--minutes 1 10 30 120]
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
from typing import Any

from dubkit.testing.sample_video import lecture_script, make_sample_video

RESULTS = Path(__file__).parent / "results" / "long.json"
PLOT = RESULTS.with_suffix(".png")
BASE_MINUTES = 10.0


def _loop(base: Path, minutes: float, out: Path) -> Path:
    """``base`` repeated (packets copied) and cut to ``minutes``."""
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-stream_loop",
            "-1",
            "-i",
            str(base),
            "-t",
            f"{minutes * 60:.3f}",
            "-c",
            "copy",
            "-map",
            "0",
            str(out),
        ],
        check=True,
    )
    return out


def _dub(video: Path, out: Path) -> tuple[float, int]:
    exe = shutil.which("dubkit", path=str(Path(sys.executable).parent)) or "dubkit"
    started = time.perf_counter()
    env = {**os.environ, "DUBKIT_MAX_UPLOAD_BYTES": str(4 * 2**30)}  # the 120-minute input is ~280 MB
    proc = subprocess.Popen(
        [exe, "dub", str(video), "--to", "es", "-o", str(out)], stdout=subprocess.DEVNULL, env=env
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"dub of {video} failed")
    return wall, usage.ru_maxrss * 1024  # Linux reports KiB


def _plot(runs: dict[str, dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [r["media_minutes"] for r in runs.values()]
    fig, (rss, wall) = plt.subplots(1, 2, figsize=(10, 4))
    rss.plot(minutes, [r["peak_rss_mb"] for r in runs.values()], "o-")
    rss.set(xlabel="input (minutes)", ylabel="peak RSS (MB)", title="Peak memory", ylim=(0, None))
    wall.plot(minutes, [r["wall_seconds"] for r in runs.values()], "o-")
    wall.set(xlabel="input (minutes)", ylabel="wall time (s)", title="Wall time", ylim=(0, None))
    fig.tight_layout()
    fig.savefig(PLOT, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0, 30.0, 120.0])
    args = parser.parse_args()
    runs: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="dubkit-long-") as tmp:
        folder = Path(tmp)
        base_minutes = min(BASE_MINUTES, max(args.minutes))
        base = make_sample_video(
            folder / "lecture.mp4", script=lecture_script(base_minutes), size="160x120", fps=10
        )
        for minutes in args.minutes:
            video = _loop(base.path, minutes, folder / f"talk-{minutes:g}min.mp4")
            wall, peak = _dub(video, folder / f"out-{minutes:g}")
            project = json.loads((folder / f"out-{minutes:g}" / f"{video.stem}.es.dub.json").read_text())
            runs[f"{minutes:g}min"] = {
                "media_minutes": minutes,
                "wall_seconds": round(wall, 1),
                "seconds_per_media_minute": round(wall / minutes, 2),
                "peak_rss_mb": round(peak / 2**20, 1),
                # The lecture has two voices however long the loop: more labels would mean the chunks'
                # speakers were not linked.
                "speakers": len(project["speakers"]),
                "stage_seconds": project["quality"]["stage_seconds"],
            }
            print(f"{minutes:g} min: {json.dumps(runs[f'{minutes:g}min'])}", flush=True)
            shutil.rmtree(folder / f"out-{minutes:g}", ignore_errors=True)
            video.unlink()
    results: dict[str, object] = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "runs": runs}
    if "10min" in runs:
        longest = runs[max(runs, key=lambda k: runs[k]["media_minutes"])]
        results["peak_rss_longest_over_10min"] = round(
            longest["peak_rss_mb"] / runs["10min"]["peak_rss_mb"], 3
        )
        results["seconds_per_minute_longest_over_10min"] = round(
            longest["seconds_per_media_minute"] / runs["10min"]["seconds_per_media_minute"], 3
        )
    results["targets"] = {"peak_rss_longest_over_10min": 1.15, "wall_time": "linear in duration"}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    _plot(runs)


if __name__ == "__main__":
    main()
