"""Each line's anchored window: its renditions, the start times it may take and where it must end.

Everything here is per line and cheap (O(lines)); the solver works on what this module returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.timing.model import Line, TimingOptions

__all__ = ["Window", "build_windows", "stretch_grid"]

FloatArray = npt.NDArray[np.float64]

_EPS = 1e-9


@attrs.frozen(slots=True, eq=False)
class Window:
    """One line, prepared for the solver.

    Attributes:
        line: The line.
        ranks: Candidate index of each rendition (one per candidate and synth rate).
        rates: Synth rate of each rendition.
        durations: Seconds of each rendition at stretch 1.
        starts: Allowed start times, sorted (the slot start is on the grid when it is allowed).
        soft_end: The window end: the next speaker's slot start, ``slot_end + max_borrow_after`` or the
            media end, whichever comes first; passing it is an overrun.
        latest_on_time: ``slot_start + max_delay``; starting after it is late.
        smooth_with_previous: Whether the stretch is smoothed against the previous line's.
    """

    line: Line
    ranks: FloatArray
    rates: FloatArray
    durations: FloatArray
    starts: FloatArray
    soft_end: float
    latest_on_time: float
    smooth_with_previous: bool


def stretch_grid(options: TimingOptions) -> FloatArray:
    """The stretch values the solver considers.

    1.0, the comfort limit and the cap lie exactly on the grid; between them the values are about
    ``stretch_step`` apart in log scale.

    Returns:
        Sorted stretches from 1.0 to ``max_stretch``.
    """
    high = min(options.comfort[1], options.max_stretch)
    pieces = [np.array([1.0])]
    for lower, upper in ((1.0, high), (high, options.max_stretch)):
        if upper > lower:
            count = max(1, math.ceil(math.log(upper / lower) / options.stretch_step))
            pieces.append(np.geomspace(lower, upper, count + 1)[1:])
    grid = np.concatenate(pieces)
    grid[-1] = options.max_stretch
    return np.asarray(grid, dtype=np.float64)


def _start_grid(anchor: float, lower: float, upper: float, step: float) -> FloatArray:
    first = math.ceil((lower - anchor) / step - _EPS)
    last = math.floor((upper - anchor) / step + _EPS)
    points = anchor + step * np.arange(first, last + 1, dtype=np.float64)
    points = points[(points >= lower - _EPS) & (points <= upper + _EPS)]
    return np.unique(np.concatenate([points, [lower, upper]]).clip(lower, upper))


def _renditions(line: Line) -> tuple[FloatArray, FloatArray, FloatArray]:
    table = [(c.index, rate, duration) for c in line.candidates for rate, duration in c.durations]
    ranks, rates, durations = (np.array(column, dtype=np.float64) for column in zip(*table, strict=True))
    return ranks, rates, durations


def build_windows(lines: Sequence[Line], media_duration: float, options: TimingOptions) -> list[Window]:
    """Prepare lines (already in time order) for the solver.

    A line may start in ``[slot_start - max_borrow_before, slot_start + max_delay]``, never before 0 and
    never before the previous line's slot end when the previous line is another speaker's (but always at
    its own slot start). A forward pass then computes the earliest start each line can have at all
    (every earlier line at its earliest start, at the cap, with its shortest rendition): starts before it
    are dropped, and a line whose earliest start is after its window gets the late window
    ``[earliest, earliest + max_delay]`` instead, so a plan that never overlaps always exists.

    Args:
        lines: Lines sorted by slot start.
        media_duration: Seconds; clips should end by then.
        options: Limits and grid resolution.

    Returns:
        One window per line, in the same order.
    """
    windows: list[Window] = []
    earliest = 0.0
    for i, line in enumerate(lines):
        ranks, rates, durations = _renditions(line)
        anchor = line.slot_start
        previous = lines[i - 1] if i else None
        nxt = lines[i + 1] if i + 1 < len(lines) else None
        lower = max(0.0, anchor - options.max_borrow_before)
        if previous is not None and previous.speaker != line.speaker:
            lower = max(lower, previous.slot_end)
        lower = min(lower, anchor)
        upper = anchor + options.max_delay
        lower = max(lower, earliest)
        if lower > upper + _EPS:
            upper = lower + options.max_delay
        soft_end = media_duration
        if options.max_borrow_after is not None:
            soft_end = min(soft_end, line.slot_end + options.max_borrow_after)
        if nxt is not None and nxt.speaker != line.speaker:
            soft_end = min(soft_end, nxt.slot_start)
        smooth = previous is not None and anchor - previous.slot_end <= options.smooth_within
        windows.append(
            Window(
                line=line,
                ranks=ranks,
                rates=rates,
                durations=durations,
                starts=_start_grid(anchor, lower, upper, options.time_step),
                soft_end=soft_end,
                latest_on_time=anchor + options.max_delay,
                smooth_with_previous=smooth,
            )
        )
        earliest = lower + float(durations.min()) / options.max_stretch + options.min_gap
    return windows
