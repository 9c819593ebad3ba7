"""Worked examples of the whole-job timing solver, and its input checks."""

from __future__ import annotations

import math
import time

import pytest

from dubkit.errors import ConfigError
from dubkit.models.speech import TimingPlan
from dubkit.timing import Candidate, Line, TimingFlag, TimingOptions, TimingWeights, plan_timing

TOL = 1e-6


def line(sid: str, start: float, end: float, *durations: float, speaker: str = "A") -> Line:
    return Line(sid, start, end, speaker, [Candidate(k, {1.0: d}) for k, d in enumerate(durations)])


def test_a_line_that_fits_plays_unchanged_at_its_slot_start() -> None:
    plan = plan_timing([line("a", 1.0, 3.0, 1.8), line("b", 3.5, 5.0, 1.2)], 6.0)
    a, b = plan.placements
    assert (a.start, a.stretch, a.candidate, a.synth_rate) == (1.0, 1.0, 0, 1.0)
    assert math.isclose(a.end, 2.8)
    assert (b.start, b.stretch) == (3.5, 1.0)
    assert plan.feasible_within_comfort
    assert not plan.flagged()


def test_a_long_line_before_a_long_gap_borrows_the_gap_instead_of_stretching() -> None:
    plan = plan_timing([line("a", 0.0, 2.0, 3.0), line("b", 6.0, 7.0, 1.0)], 8.0)
    a, _ = plan.placements
    assert (a.start, a.stretch) == (0.0, 1.0)
    assert math.isclose(a.end, 3.0)


def test_a_long_line_starts_early_into_the_silence_before_it_rather_than_stretching() -> None:
    # slot [2, 3.5], next line at 3.6: without borrowing it would need a stretch of 1.14
    plan = plan_timing([line("a", 2.0, 3.5, 1.62), line("b", 3.6, 5.0, 1.0)], 6.0)
    a, b = plan.placements
    assert a.stretch <= 1.05
    assert a.start < 2.0  # borrowed before (and b may start a little late): 1.14 became <= 1.05
    assert a.end + 0.08 <= b.start + TOL


def test_a_cluster_of_long_lines_shares_the_squeeze_smoothly() -> None:
    # four back-to-back 2 s slots with 2.2-2.5 s clips, walled in by another speaker's lines
    durations = [2.2, 2.5, 2.3, 2.4]
    cluster = [line(f"l{i}", 1.0 + 2.1 * i, 3.0 + 2.1 * i, d) for i, d in enumerate(durations)]
    lines = [line("pre", 0.0, 1.0, 0.9, speaker="B"), *cluster, line("post", 9.4, 10.0, 0.5, speaker="B")]
    plan = plan_timing(lines, 12.0)
    assert plan.feasible_within_comfort
    stretches = [p.stretch for p in plan.placements[1:-1]]
    assert all(1.1 <= s <= 1.2 for s in stretches)  # every line takes a share ...
    assert max(stretches) - min(stretches) <= 0.03  # ... and about the same share
    assert plan.placements[-2].end <= 9.4 + TOL  # never into the other speaker's slot


def test_an_impossible_line_is_flagged_and_never_overlaps() -> None:
    # 4 s of speech for a 0.5 s slot, another speaker 0.5 s later
    lines = [line("a", 1.0, 1.5, 4.0, speaker="A"), line("b", 2.0, 3.0, 0.8, speaker="B")]
    plan = plan_timing(lines, 10.0)
    a, b = plan.placements
    assert a.stretch == pytest.approx(1.35)
    assert {TimingFlag.AT_CAP, TimingFlag.OVER_COMFORT, TimingFlag.OVERRUN} <= a.flags
    assert a.end + 0.08 <= b.start + TOL
    assert TimingFlag.LATE in b.flags  # b cannot start on time: a is already as fast as allowed
    assert not plan.feasible_within_comfort


def test_a_line_never_runs_into_the_next_speakers_slot() -> None:
    # a's 2.6 s would fit before b's clip if b borrowed 0.3 s early, but b is another speaker
    lines = [line("a", 0.0, 2.0, 2.6, speaker="A"), line("b", 2.5, 4.0, 1.0, speaker="B")]
    a, b = plan_timing(lines, 5.0).placements
    assert a.end <= 2.5 + TOL
    assert b.start >= 2.0 - TOL


def test_the_synthesizers_rate_comes_before_stretching() -> None:
    lines = [Line("a", 0.0, 2.0, "A", [Candidate(0, {1.0: 2.3, 1.1: 2.3 / 1.1})]), line("b", 2.08, 3.0, 0.5)]
    a, _ = plan_timing(lines, 4.0, TimingOptions(max_borrow_before=0.0)).placements
    assert a.synth_rate == 1.1
    assert a.stretch < 1.05


def test_a_small_overrun_keeps_the_best_translation() -> None:
    # 3% too long: stretching a little is better than a worse translation
    lines = [line("a", 0.0, 2.0, 2.0 * 1.03, 1.5), line("b", 2.08, 3.0, 0.5)]
    a, _ = plan_timing(lines, 4.0, TimingOptions(max_borrow_before=0.0)).placements
    assert a.candidate == 0
    assert a.stretch > 1.0
    assert a.stretch <= 1.03 + TOL


def test_the_plan_converts_to_the_fit_stages_timing_plan() -> None:
    plan = plan_timing([line("a", 1.0, 3.0, 1.8)], 4.0)
    timing = plan.to_timing_plan()
    assert isinstance(timing, TimingPlan)
    (clip,) = timing.timings
    assert (clip.segment_id, clip.start, clip.stretch) == ("a", 1.0, 1.0)
    assert (clip.slot_start, clip.slot_end) == (1.0, 3.0)
    assert plan.by_id()["a"].offset == 0.0


def test_no_lines_no_placements() -> None:
    plan = plan_timing([], 10.0)
    assert plan.placements == ()
    assert plan.feasible_within_comfort


def test_a_thousand_lines_plan() -> None:
    lines = [
        line(f"s{i}", 2.0 * i, 2.0 * i + 1.6, 1.5 + (i % 7) * 0.15, 1.4 + (i % 5) * 0.1) for i in range(1000)
    ]
    started = time.perf_counter()
    plan = plan_timing(lines, 2001.0)
    # A guard against a blow-up (a quadratic solver takes minutes here), not a speed check:
    # benchmarks/bench_timing.py measures the solver's speed.
    assert time.perf_counter() - started < 30
    assert len(plan.placements) == 1000


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: plan_timing([line("a", 0, 1, 1.0), line("a", 2, 3, 1.0)], 5.0), "lines"),
        (lambda: plan_timing([line("a", 0, 1, 1.0)], -1.0), "media_duration"),
        (lambda: Line("a", 2.0, 1.0, "A", [Candidate(0, {1.0: 1.0})]), "slot_end"),
        (lambda: Line("a", 0.0, 1.0, "A", []), "candidates"),
        (
            lambda: Line("a", 0.0, 1.0, "A", [Candidate(0, {1.0: 1.0}), Candidate(0, {1.0: 2.0})]),
            "candidates",
        ),
        (lambda: Candidate(0, {1.0: 0.0}), "durations"),
        (lambda: Candidate(0, {}), "durations"),
        (lambda: TimingOptions(comfort=(0.9, 0.95)), "comfort"),
        (lambda: TimingOptions(max_stretch=0.9), "max_stretch"),
        (lambda: TimingOptions(time_step=0.0), "time_step"),
        (lambda: TimingWeights(stretch=-1.0), "stretch"),
    ],
)
def test_bad_input_raises_config_error(build: object, field: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build()  # type: ignore[operator]
    assert caught.value.field == field
