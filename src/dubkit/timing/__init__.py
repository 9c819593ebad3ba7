"""Whole-job timing: where every dubbed line plays, with which candidate, synth rate and stretch.

Pure and dependency-light (numpy only, no I/O). Build one `Line` per segment with its `Candidate`
renditions, call `plan_timing`, read the `Plan`. See `dubkit.timing.solver` for the algorithm.
"""

from __future__ import annotations

from dubkit.timing.model import (
    Candidate,
    Line,
    Placement,
    Plan,
    TimingFlag,
    TimingOptions,
    TimingWeights,
)
from dubkit.timing.solver import plan_timing

__all__ = [
    "Candidate",
    "Line",
    "Placement",
    "Plan",
    "TimingFlag",
    "TimingOptions",
    "TimingWeights",
    "plan_timing",
]
