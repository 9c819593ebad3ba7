"""What natural voices cost: the 10-minute lecture dubbed into Spanish with espeak-ng and with the default.

The same generated lecture (`dubkit.testing.sample_video.lecture_script`, as bench_dub.py makes it) is
dubbed twice in one run, each as ``dubkit dub`` in a fresh process with its own run directory (nothing
shared, models loaded included): once with ``--synthesizer espeak-ng`` (the fast profile) and once
with the default synthesizer ``auto`` (Kokoro-82M for Spanish). Reported per dub: wall time, peak RSS,
per-stage seconds and the synthesize stage's CPU-seconds per second of speech (from the dub project);
and the ratio of the two wall times (target: at most 3x, peak RSS at most 1.2 GB).
Results go to ``benchmarks/results/voices_speed.json``.

Run: .venv/bin/python benchmarks/bench_voices_speed.py [--minutes 10] [--to es]
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

RESULTS = Path(__file__).parent / "results" / "voices_speed.json"
TARGETS = {"wall_ratio": 3.0, "peak_rss_mb": 1200}


def _dub(video: Path, out: Path, target: str, synthesizer: str) -> dict[str, object]:
    exe = shutil.which("dubkit", path=str(Path(sys.executable).parent)) or "dubkit"
    command = [exe, "dub", str(video), "--to", target, "-o", str(out), "--synthesizer", synthesizer]
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed")
    project = json.loads((out / f"{video.stem}.{target}.dub.json").read_text())
    quality = project["quality"]
    synthesis = quality.get("synthesis") or {}
    return {
        "synthesizer": synthesis.get("synthesizer", synthesizer),
        "wall_seconds": round(wall, 2),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "stage_seconds": quality["stage_seconds"],
        "synthesis": synthesis,
        "fallback_lines": len(synthesis.get("fallback_segments", [])),
        "segments": len(project["segments"]),
        "failed_segments": len(quality["failed_segments"]),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--to", default="es")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dubkit-voices-") as tmp:
        folder = Path(tmp)
        video = folder / f"lecture-{args.minutes:g}min.mp4"
        sample = make_sample_video(video, script=lecture_script(args.minutes))
        runs = {}
        for synthesizer in ("espeak-ng", "auto"):
            runs[synthesizer] = _dub(video, folder / synthesizer, args.to, synthesizer)
            print(f"{synthesizer}: {json.dumps(runs[synthesizer])}", flush=True)
    fast, natural = runs["espeak-ng"], runs["auto"]
    ratio = float(natural["wall_seconds"]) / float(fast["wall_seconds"])  # type: ignore[arg-type]
    results = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "media_seconds": round(sample.duration, 1),
        "target_language": args.to,
        "runs": runs,
        "wall_ratio_natural_over_espeak": round(ratio, 3),
        "natural_peak_rss_mb": natural["peak_rss_mb"],
        "natural_synthesis_cpu_per_speech_second": (natural["synthesis"] or {}).get("cpu_per_speech_second"),  # type: ignore[union-attr]
        "targets": TARGETS,
        "meets_targets": ratio <= TARGETS["wall_ratio"]
        and float(natural["peak_rss_mb"]) <= TARGETS["peak_rss_mb"],  # type: ignore[arg-type]
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "runs"}, indent=2))


if __name__ == "__main__":
    main()
