"""Import time of dubkit's light entry points, against a bare interpreter, in one run.

Run: .venv/bin/python benchmarks/bench_import.py   (writes benchmarks/results/import.json)
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

MODULES = ["dubkit", "dubkit.pipeline", "dubkit.cli"]
REPEATS = 7


def _time(code: str) -> float:
    samples = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    baseline = _time("pass")
    results = {"python": sys.version.split()[0], "repeats": REPEATS, "bare_interpreter_s": round(baseline, 4)}
    for module in MODULES:
        total = _time(f"import {module}")
        results[module] = {
            "total_s": round(total, 4),
            "import_s": round(total - baseline, 4),
            "ratio_to_bare_interpreter": round(total / baseline, 2),
        }
    out = Path(__file__).parent / "results" / "import.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
