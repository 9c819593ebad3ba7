"""`plan_timing`: one timing plan for a whole job.

Every clip is anchored to its own source slot: its start lies in ``[slot_start - max_borrow_before,
slot_start + max_delay]``, so error never accumulates from line to line. Consecutive lines interact only
through "end of line i + min_gap <= start of line i+1" (plus the next speaker's slot start as the end of
line i's window) and the smoothness of the stretch, which makes the job a chain: a dynamic program over
lines finds the exact optimum of the objective on a grid of start times (``time_step``, 10 ms) and
stretches (about 1% apart, with 1.0, the comfort limit and the cap on the grid), jointly with each line's
choice of translation candidate and synthesizer rate. The objective adds, per line, the cost of
stretching (``log(stretch)**2``, plus a large fixed penalty and a slope above the comfortable range), of
the synthesizer's faster rate (lighter), of a worse-ranked candidate, of the start offset, and of the jump
in ``log(stretch)`` from a close neighbour. With the default weights a shorter candidate replaces an
overrun of more than about 10%, smaller overruns go to the synthesizer's rate and then to stretching,
and a plan inside the comfortable range always beats one outside it. After the program, each stretch is
tightened to the least the chosen starts need (never more than the grid value), so smoothing decides how
a cluster of tight lines shares the squeeze but never speeds up a line that fits. Unlike greedy per-line
rules, the whole-job optimum lets a long line borrow the gap after it, or have its neighbour start early,
instead of being sped up. Cost: O(lines * renditions * starts * stretches + lines * stretches^2 * starts)
vectorised numpy work, linear in the number of lines (about 0.33 ms a line at the defaults, 2 cores).

What happens when nothing fits: the stretch never exceeds ``max_stretch``, clips never overlap and are
never truncated. A line that cannot end inside its window even at the cap runs on past it (flag
``overrun``) as long as it does not overlap the next clip; when the lines before a line cannot end in
time even at the cap, that line starts after its window (flag ``late``), as little as possible.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from dubkit.errors import ConfigError
from dubkit.timing.dynamic import Choice, solve
from dubkit.timing.model import Line, Placement, Plan, TimingFlag, TimingOptions
from dubkit.timing.windows import Window, build_windows, stretch_grid

__all__ = ["plan_timing"]

_TOLERANCE = 1e-6
_UNCOMFORTABLE = frozenset({TimingFlag.OVER_COMFORT, TimingFlag.OVERRUN, TimingFlag.LATE})


def plan_timing(lines: Sequence[Line], media_duration: float, options: TimingOptions | None = None) -> Plan:
    """Plan where every line plays, which candidate and rate it uses and how much it is stretched.

    Args:
        lines: One per segment, in any order; each with at least one candidate.
        media_duration: Seconds; clips should end by then (running past it is an overrun).
        options: Limits, grid resolution and weights; the defaults when omitted.

    Returns:
        The plan, with placements in time order (by slot start, then slot end, then input order).

    Raises:
        ConfigError: Two lines share a segment id, or ``media_duration`` is negative or not finite.
    """
    options = options or TimingOptions()
    if not (math.isfinite(media_duration) and media_duration >= 0):
        raise ConfigError(f"media_duration must be >= 0, got {media_duration}", field="media_duration")
    ids = [line.segment_id for line in lines]
    if len(set(ids)) != len(ids):
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        raise ConfigError(f"segment ids appear twice: {', '.join(duplicates)}", field="lines")
    ordered = sorted(lines, key=lambda line: (line.slot_start, line.slot_end))
    windows = build_windows(ordered, media_duration, options)
    choices, cost = solve(windows, options, stretch_grid(options))
    placements = _place(windows, choices, options)
    comfortable = not any(p.flags & _UNCOMFORTABLE for p in placements)
    return Plan(placements=tuple(placements), feasible_within_comfort=comfortable, cost=cost)


def _place(windows: Sequence[Window], choices: Sequence[Choice], options: TimingOptions) -> list[Placement]:
    """Turn grid choices into placements with the least stretch their starts allow, and flag them."""
    cap = options.max_stretch
    placements = []
    for i, (window, choice) in enumerate(zip(windows, choices, strict=True)):
        duration = float(window.durations[choice.rendition])
        start = choice.start
        hard_end = choices[i + 1].start - options.min_gap if i + 1 < len(choices) else math.inf
        end_limit = min(hard_end, window.soft_end)
        room = end_limit - start
        stretch = max(1.0, duration / room) if room > 0 else math.inf
        # cannot end inside the window even at the cap: play at the cap and overrun (the program's
        # state already ended before the next clip at a stretch <= cap, so this cannot overlap)
        stretch = min(stretch, cap)
        end = start + duration / stretch
        placements.append(
            Placement(
                segment_id=window.line.segment_id,
                candidate=int(window.ranks[choice.rendition]),
                synth_rate=float(window.rates[choice.rendition]),
                start=start,
                end=end,
                stretch=stretch,
                slot_start=window.line.slot_start,
                slot_end=window.line.slot_end,
                flags=_flags(window, start, end, stretch, options),
            )
        )
    return placements


def _flags(
    window: Window, start: float, end: float, stretch: float, options: TimingOptions
) -> frozenset[TimingFlag]:
    flags = set()
    if stretch > options.comfort[1] + _TOLERANCE:
        flags.add(TimingFlag.OVER_COMFORT)
    if stretch >= options.max_stretch - _TOLERANCE:
        flags.add(TimingFlag.AT_CAP)
    if end > window.soft_end + _TOLERANCE:
        flags.add(TimingFlag.OVERRUN)
    if start > window.latest_on_time + _TOLERANCE:
        flags.add(TimingFlag.LATE)
    return frozenset(flags)
