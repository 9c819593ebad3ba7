"""Speed of the whole-job timing solver (dubkit.timing.plan_timing).

Plans 100, 1,000 and 5,000 random lines (two speakers, three candidates each, two synth rates per
candidate, slots 0.5-4 s with 0.1-1.5 s of silence between them, clips 0.8-1.4x their slot) at the
default options, and records the median of several runs: seconds and lines per second. Run by hand:

    .venv/bin/python benchmarks/bench_timing.py [--repeats 5]

Writes benchmarks/results/timing.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from dubkit.timing import Candidate, Line, plan_timing

RESULTS = Path(__file__).parent / "results" / "timing.json"
SIZES = (100, 1_000, 5_000)


def random_job(count: int, seed: int = 0) -> tuple[list[Line], float]:
    rng = np.random.default_rng(seed)
    lines = []
    t = 0.0
    for i in range(count):
        t += rng.uniform(0.1, 1.5)
        slot = rng.uniform(0.5, 4.0)
        candidates = []
        for k in range(3):
            natural = slot * rng.uniform(0.8, 1.4) * (1 - 0.08 * k)
            candidates.append(Candidate(k, {1.0: natural, 1.1: natural / 1.1}))
        lines.append(Line(f"seg-{i:05d}", t, t + slot, f"SPEAKER_0{rng.integers(2)}", candidates))
        t += slot
    return lines, t + 2.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = []
    for count in SIZES:
        lines, media = random_job(count)
        plan_timing(lines[:50], media)  # warm up numpy
        times = []
        for _ in range(args.repeats):
            started = time.perf_counter()
            plan = plan_timing(lines, media)
            times.append(time.perf_counter() - started)
        seconds = statistics.median(times)
        row = {
            "lines": count,
            "seconds": round(seconds, 4),
            "lines_per_second": round(count / seconds),
            "flagged": len(plan.flagged()),
            "feasible_within_comfort": plan.feasible_within_comfort,
        }
        rows.append(row)
        print(row)
    result = {
        "benchmark": "timing",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "repeats": args.repeats,
        "results": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
