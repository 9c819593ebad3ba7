"""How quickly dubkit answers: import time and the quick CLI commands, against a bare interpreter.

Measured in the full install (every extra: ./dev.sh setup), CPU seconds (user + system, of the child
and its children) and wall seconds, median of several runs, all in one run of this script.

Targets (issue #17): `dubkit --version` <= 0.3 CPU-seconds; `dubkit probe` of a broken file <= 0.5 s
wall on an idle machine. The load average is recorded with the figures: on a busy machine the wall
times grow.

Run: .venv/bin/python benchmarks/bench_import.py   (writes benchmarks/results/import.json)
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPEATS = 9
BIN = Path(sys.executable).parent


def _run(argv: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of ``argv`` (its children's CPU included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def _measure(argv: list[str]) -> dict[str, float]:
    _run(argv)  # warm the file cache
    samples = [_run(argv) for _ in range(REPEATS)]
    return {
        "wall_s": round(statistics.median(s[0] for s in samples), 4),
        "cpu_s": round(statistics.median(s[1] for s in samples), 4),
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        broken = Path(tmp) / "broken.mp4"
        broken.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4096))
        cases = {
            "bare interpreter": [sys.executable, "-c", "pass"],
            "import dubkit": [sys.executable, "-c", "import dubkit"],
            "import dubkit.cli": [sys.executable, "-c", "import dubkit.cli"],
            "dubkit --version": [str(BIN / "dubkit"), "--version"],
            "dubkit --help": [str(BIN / "dubkit"), "--help"],
            "dubkit backends": [str(BIN / "dubkit"), "backends"],
            "dubkit probe broken.mp4": [str(BIN / "dubkit"), "probe", str(broken)],
        }
        load_before = os.getloadavg()[0]
        figures = {name: _measure(argv) for name, argv in cases.items()}
        load_after = os.getloadavg()[0]
    bare = figures["bare interpreter"]
    for fig in figures.values():
        fig["cpu_over_bare_s"] = round(fig["cpu_s"] - bare["cpu_s"], 4)
    version, probe = figures["dubkit --version"], figures["dubkit probe broken.mp4"]
    results = {
        "python": sys.version.split()[0],
        "repeats": REPEATS,
        "cpu_count": os.cpu_count(),
        "load_average_1min": {"before": round(load_before, 2), "after": round(load_after, 2)},
        "figures": figures,
        "targets": {
            "dubkit --version cpu_s <= 0.3": version["cpu_s"] <= 0.3,
            "dubkit probe wall_s <= 0.5 (idle machine)": probe["wall_s"] <= 0.5,
        },
    }
    out = Path(__file__).parent / "results" / "import.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
