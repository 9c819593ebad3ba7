"""The dynamic program over lines: choose a rendition, a start on the grid and a stretch for every line.

State of line i: (rendition o, start index j, stretch index x). Consecutive lines interact only through
``end_(i-1) + min_gap <= start_i`` and the smoothness term, so

    F_i(o, j, x) = C_i(o, j, x) + min over (o', j', x') with end_(i-1)(o', j', x') + gap <= t_j
                                  of F_(i-1)(o', j', x') + w_smooth * |log s_x - log s_x'|

For fixed (o', x'), the end grows with j', so the inner minimum is a prefix minimum over j' read at the
last j' that still ends in time (one ``searchsorted``), then a minimum over o', then a min-plus product
with the smoothness matrix over the stretch grid. Per line this costs O(O*J*X + X*X*J) numpy work.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.timing.model import TimingOptions, TimingWeights
from dubkit.timing.windows import Window

__all__ = ["Choice", "solve"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

_EPS = 1e-9


@attrs.frozen(slots=True)
class Choice:
    """The solver's choice for one line, on its grids.

    Attributes:
        rendition: Index into the window's renditions.
        start: Start time (seconds).
        stretch: Stretch from the grid.
    """

    rendition: int
    start: float
    stretch: float


def _local_cost(window: Window, grid: FloatArray, options: TimingOptions) -> FloatArray:
    """C(o, j, x): everything that depends on one line alone."""
    w: TimingWeights = options.weights
    log_x = np.log(grid)
    high = min(options.comfort[1], options.max_stretch)
    stretch_cost = w.stretch * log_x**2
    over = log_x - np.log(high)
    stretch_cost = stretch_cost + np.where(over > _EPS, w.over_comfort_fixed + w.over_comfort * over, 0.0)
    rendition_cost = w.candidate * window.ranks + w.synth_rate * np.log(window.rates) ** 2
    starts = window.starts
    anchor = window.line.slot_start
    start_cost = w.offset * np.abs(starts - anchor)
    lateness = starts - window.latest_on_time
    start_cost = start_cost + np.where(lateness > _EPS, w.late * lateness, 0.0)
    ends = starts[None, :, None] + (window.durations[:, None] / grid[None, :])[:, None, :]
    overrun = ends - window.soft_end
    overrun_cost = np.where(overrun > _EPS, w.overrun_fixed + w.overrun * overrun, 0.0)
    cost = (
        rendition_cost[:, None, None] + start_cost[None, :, None] + stretch_cost[None, None, :] + overrun_cost
    )
    return np.asarray(cost, dtype=np.float64)


def _prefix_min(cost: FloatArray) -> tuple[FloatArray, IntArray]:
    """Minimum over j' <= j along axis 1, and where it is (the last strict improvement)."""
    best = np.minimum.accumulate(cost, axis=1)
    improved = np.ones(cost.shape, dtype=bool)
    improved[:, 1:] = cost[:, 1:] < best[:, :-1]
    index = np.where(improved, np.arange(cost.shape[1])[None, :, None], 0)
    return best, np.maximum.accumulate(index, axis=1)


def solve(windows: Sequence[Window], options: TimingOptions, grid: FloatArray) -> tuple[list[Choice], float]:
    """Minimise the objective over all lines at once.

    Args:
        windows: Prepared lines, in time order.
        options: Limits and weights.
        grid: The stretch grid (see `stretch_grid`).

    Returns:
        One choice per line and the objective's value.
    """
    if not windows:
        return [], 0.0
    n_x = len(grid)
    log_x = np.log(grid)
    smooth = options.weights.smooth * np.abs(log_x[:, None] - log_x[None, :])  # (x, x')
    gap = options.min_gap
    total = _local_cost(windows[0], grid, options)
    # predecessor of each (j, x) of line i, as a flat index into line i-1's (o, j, x) states
    links: list[IntArray] = []
    for prev, window in pairwise(windows):
        best, where = _prefix_min(total)  # (o', j', x')
        n_j = best.shape[1]
        latest_end = window.starts[None, None, :] - gap  # (1, 1, j)
        ends_offset = prev.durations[:, None] / grid[None, :]  # (o', x')
        limit = latest_end - ends_offset[:, :, None]  # latest start of line i-1: (o', x', j)
        last = np.searchsorted(prev.starts, (limit + _EPS).ravel(), side="right").reshape(limit.shape) - 1
        safe = np.maximum(last, 0)
        reach = np.take_along_axis(best.transpose(0, 2, 1), safe, axis=2)  # (o', x', j)
        reach = np.where(last >= 0, reach, np.inf)
        best_o = np.argmin(reach, axis=0)  # (x', j)
        reach_o = np.take_along_axis(reach, best_o[None], axis=0)[0]  # (x', j)
        if window.smooth_with_previous:
            through = reach_o[None, :, :] + smooth[:, :, None]  # (x, x', j)
            best_x = np.argmin(through, axis=1)  # (x, j)
            arrive = np.take_along_axis(through, best_x[:, None, :], axis=1)[:, 0, :]
        else:
            flat = np.argmin(reach_o, axis=0)  # (j,)
            best_x = np.broadcast_to(flat[None, :], (n_x, len(flat)))
            arrive = np.broadcast_to(reach_o[flat, np.arange(len(flat))][None, :], (n_x, len(flat)))
        o_star = np.take_along_axis(best_o, best_x, axis=0)  # (x, j)
        j_star = where[o_star, safe[o_star, best_x, np.arange(best_x.shape[1])[None, :]], best_x]
        links.append(((o_star * n_j + j_star) * n_x + best_x).T.astype(np.intp))  # (j, x)
        total = _local_cost(window, grid, options) + arrive.T[None, :, :]
    flat_best = int(np.argmin(total))
    value = float(total.ravel()[flat_best])
    states = [flat_best]
    for window, link in zip(reversed(windows), reversed(links), strict=False):
        state = states[-1]
        j, x = (state // n_x) % len(window.starts), state % n_x
        states.append(int(link[j, x]))
    states.reverse()
    choices = []
    for window, state in zip(windows, states, strict=True):
        o, j, x = state // (len(window.starts) * n_x), (state // n_x) % len(window.starts), state % n_x
        choices.append(Choice(rendition=o, start=float(window.starts[j]), stretch=float(grid[x])))
    return choices, value
