"""The dynamic program finds the exact optimum on its grid: checked against a dense, obviously correct
oracle that scores every pair of states of neighbouring lines with a scalar re-implementation of the
objective."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dubkit.timing import Candidate, Line, TimingOptions, plan_timing
from dubkit.timing.windows import Window, build_windows, stretch_grid

COARSE = TimingOptions(time_step=0.05, stretch_step=0.05)
EPS = 1e-9


def state_costs(window: Window, options: TimingOptions) -> list[tuple[float, float, float, float]]:
    """(cost, start, end, log stretch) of every state of one line."""
    w = options.weights
    high = math.log(min(options.comfort[1], options.max_stretch))
    states = []
    for rank, rate, duration in zip(window.ranks, window.rates, window.durations, strict=True):
        for start in window.starts:
            for stretch in stretch_grid(options):
                log_x = math.log(stretch)
                end = start + duration / stretch
                cost = w.candidate * rank + w.synth_rate * math.log(rate) ** 2 + w.stretch * log_x**2
                cost += w.offset * abs(start - window.line.slot_start)
                if start - window.latest_on_time > EPS:
                    cost += w.late * (start - window.latest_on_time)
                if log_x - high > EPS:
                    cost += w.over_comfort_fixed + w.over_comfort * (log_x - high)
                if end - window.soft_end > EPS:
                    cost += w.overrun_fixed + w.overrun * (end - window.soft_end)
                states.append((cost, float(start), end, log_x))
    return states


def oracle(lines: list[Line], media: float, options: TimingOptions) -> float:
    windows = build_windows(sorted(lines, key=lambda x: (x.slot_start, x.slot_end)), media, options)
    best = np.array([c for c, *_ in state_costs(windows[0], options)])
    previous = state_costs(windows[0], options)
    for window in windows[1:]:
        current = state_costs(window, options)
        pair = np.full((len(previous), len(current)), np.inf)
        for a, (_, _, end, log_a) in enumerate(previous):
            for b, (_, start, _, log_b) in enumerate(current):
                if end + options.min_gap <= start + EPS:
                    smooth = (
                        options.weights.smooth * abs(log_a - log_b) if window.smooth_with_previous else 0.0
                    )
                    pair[a, b] = smooth
        best = (best[:, None] + pair).min(axis=0) + np.array([c for c, *_ in current])
        previous = current
    return float(best.min())


@st.composite
def small_jobs(draw: st.DrawFn) -> tuple[list[Line], float]:
    lines = []
    t = draw(st.floats(0.0, 0.5))
    for i in range(draw(st.integers(1, 4))):
        t += draw(st.floats(0.0, 1.0))
        slot = draw(st.floats(0.2, 2.0))
        candidates = [
            Candidate(
                k, {1.0: draw(st.floats(0.2, 3.0))} | ({1.1: draw(st.floats(0.2, 2.7))} if k == 0 else {})
            )
            for k in range(draw(st.integers(1, 2)))
        ]
        lines.append(Line(f"s{i}", t, t + slot, draw(st.sampled_from("AB")), candidates))
        t += slot
    return lines, t + draw(st.floats(0.0, 1.0))


@settings(max_examples=30, deadline=None)
@given(small_jobs())
def test_the_program_finds_the_grid_optimum(job: tuple[list[Line], float]) -> None:
    lines, media = job
    plan = plan_timing(lines, media, COARSE)
    assert math.isclose(plan.cost, oracle(lines, media, COARSE), rel_tol=1e-9, abs_tol=1e-9)
