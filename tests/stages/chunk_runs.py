"""Kill a dub in the middle of a chunked stage (SIGKILL), rerun it, and compare with a clean run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from dubkit.testing import SampleVideo

WORKER = Path(__file__).with_name("chunk_worker.py")


def _dub(
    stage: str, sample: SampleVideo, run_dir: Path, calls: Path, chunk_seconds: float, kill_at_call: int
) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, str(WORKER), stage, str(sample.path), str(run_dir), str(calls)]
    return subprocess.run(
        [*argv, str(chunk_seconds), str(kill_at_call)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def kill_and_resume(stage: str, sample: SampleVideo, folder: Path, chunk_seconds: float) -> dict[str, Any]:
    """Run a clean dub, then one killed as ``stage``'s third chunk begins, then that one again.

    Asserts that the killed run resumed at its third chunk (the two finished chunks were not redone) and
    that its timing plan and speakers equal the clean run's. Returns the clean run's output.
    """
    clean_calls = folder / "clean-calls.txt"
    clean = _dub(stage, sample, folder / "clean", clean_calls, chunk_seconds, kill_at_call=0)
    assert clean.returncode == 0, clean.stderr
    chunks = len(clean_calls.read_text().splitlines())
    assert chunks >= 3, "the sample must span several chunks for this test to mean anything"

    calls = folder / "calls.txt"
    killed = _dub(stage, sample, folder / "run", calls, chunk_seconds, kill_at_call=3)
    assert killed.returncode == -signal.SIGKILL
    assert len(calls.read_text().splitlines()) == 3  # two chunks finished, killed as the third began

    calls.write_text("")
    resumed = _dub(stage, sample, folder / "run", calls, chunk_seconds, kill_at_call=0)
    assert resumed.returncode == 0, resumed.stderr
    assert len(calls.read_text().splitlines()) == chunks - 2  # the two finished chunks were not redone
    output: dict[str, Any] = json.loads(clean.stdout)
    assert json.loads(resumed.stdout) == output
    return output
