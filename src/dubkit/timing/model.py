"""The timing solver's values: what it is given (lines, candidates, options) and what it returns (a plan)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from enum import Enum

import attrs

from dubkit.errors import ConfigError
from dubkit.models.speech import ClipTiming, TimingPlan

__all__ = [
    "Candidate",
    "Line",
    "Placement",
    "Plan",
    "TimingFlag",
    "TimingOptions",
    "TimingWeights",
]


def _finite_non_negative(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise ConfigError(f"{attribute.name} must be a finite number >= 0, got {value}", field=attribute.name)


def _positive(instance: object, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(f"{attribute.name} must be a finite number > 0, got {value}", field=attribute.name)


def _rate_table(
    value: Mapping[float, float] | Iterable[tuple[float, float]],
) -> tuple[tuple[float, float], ...]:
    pairs = value.items() if isinstance(value, Mapping) else value
    table = tuple(sorted((float(rate), float(duration)) for rate, duration in pairs))
    if not table:
        raise ConfigError("a candidate needs at least one (rate, duration)", field="durations")
    for rate, duration in table:
        if not (math.isfinite(rate) and rate > 0 and math.isfinite(duration) and duration > 0):
            raise ConfigError(f"rate and duration must be > 0, got {rate}: {duration}", field="durations")
    if len({rate for rate, _ in table}) != len(table):
        raise ConfigError("a synthesizer rate appears twice in one candidate", field="durations")
    return table


def _candidate_tuple(value: Iterable[Candidate]) -> tuple[Candidate, ...]:
    return tuple(value)


def _float_pair(value: Iterable[float]) -> tuple[float, float]:
    pair = tuple(float(v) for v in value)
    if len(pair) != 2:
        raise ConfigError(f"comfort must be two numbers (low, high), got {pair}", field="comfort")
    return pair[0], pair[1]


@attrs.frozen(slots=True)
class Candidate:
    """One translation of a line, as the chosen voice speaks it.

    Attributes:
        index: Rank among the translator's candidates (0 = its best); lower ranks are preferred.
        durations: ``(synth_rate, seconds)`` pairs, sorted by rate: "this candidate spoken at synthesizer
            rate r lasts d seconds". Rate 1.0 is the voice's natural rate. A mapping such as
            ``{1.0: 2.4, 1.1: 2.2}`` is accepted and converted.
    """

    index: int = attrs.field(validator=attrs.validators.ge(0))
    durations: tuple[tuple[float, float], ...] = attrs.field(converter=_rate_table)


def _ordered_slot(instance: Line, attribute: attrs.Attribute[float], value: float) -> None:
    _finite_non_negative(instance, attribute, value)
    if value < instance.slot_start:
        raise ConfigError(f"slot_end {value} is before slot_start {instance.slot_start}", field="slot_end")


def _some_candidates(
    instance: Line, attribute: attrs.Attribute[tuple[Candidate, ...]], value: tuple[Candidate, ...]
) -> None:
    if not value:
        raise ConfigError(f"line {instance.segment_id} has no candidate", field="candidates")
    if len({c.index for c in value}) != len(value):
        raise ConfigError(f"line {instance.segment_id} repeats a candidate index", field="candidates")


@attrs.frozen(slots=True)
class Line:
    """One segment to place: its source slot, its speaker and the clips it could play.

    Attributes:
        segment_id: The segment's id.
        slot_start: Where the source speech starts, in seconds; the clip is anchored here.
        slot_end: Where the source speech ends.
        speaker: Speaker label; a line never runs into the slot of the next line of another speaker.
        candidates: The translations the fit stage can offer, each with its durations per synth rate.
    """

    segment_id: str
    slot_start: float = attrs.field(converter=float, validator=_finite_non_negative)
    slot_end: float = attrs.field(converter=float, validator=_ordered_slot)
    speaker: str = "SPEAKER_00"
    candidates: tuple[Candidate, ...] = attrs.field(
        default=(), converter=_candidate_tuple, validator=_some_candidates
    )


@attrs.frozen(slots=True)
class TimingWeights:
    """Weights of the solver's objective (all per line, summed over the job).

    Attributes:
        stretch: Times ``log(stretch)**2``: the cost of time-stretching at all.
        synth_rate: Times ``log(rate)**2``: the synthesizer's own faster rate, cheaper than stretching.
        candidate: Times the candidate's rank: a worse translation.
        offset: Per second between the clip's start and its slot start (borrowing before, or delay).
        smooth: Times ``|log stretch_i - log stretch_(i-1)|`` for neighbours close in time.
        over_comfort: Per unit of ``log(stretch / comfort_high)`` above the comfortable range.
        over_comfort_fixed: Once for every line above the comfortable range; large, so that a plan within
            comfort wins whenever one exists on the grid.
        overrun: Per second a line runs past its window end (see `TimingOptions`).
        overrun_fixed: Once for every line that overruns; larger still.
        late: Per second a line starts after ``slot_start + max_delay`` (only when nothing else fits).
    """

    stretch: float = attrs.field(default=20.0, validator=_finite_non_negative)
    synth_rate: float = attrs.field(default=10.0, validator=_finite_non_negative)
    candidate: float = attrs.field(default=0.15, validator=_finite_non_negative)
    offset: float = attrs.field(default=1.0, validator=_finite_non_negative)
    smooth: float = attrs.field(default=1.0, validator=_finite_non_negative)
    over_comfort: float = attrs.field(default=100.0, validator=_finite_non_negative)
    over_comfort_fixed: float = attrs.field(default=1e3, validator=_finite_non_negative)
    overrun: float = attrs.field(default=1e3, validator=_finite_non_negative)
    overrun_fixed: float = attrs.field(default=1e4, validator=_finite_non_negative)
    late: float = attrs.field(default=100.0, validator=_finite_non_negative)


def _comfort(
    instance: object, attribute: attrs.Attribute[tuple[float, float]], value: tuple[float, float]
) -> None:
    low, high = value
    if not (0 < low <= 1.0 <= high):
        raise ConfigError(f"comfort must satisfy 0 < low <= 1 <= high, got {value}", field="comfort")


def _cap(instance: TimingOptions, attribute: attrs.Attribute[float], value: float) -> None:
    if not (math.isfinite(value) and value >= 1.0):
        raise ConfigError(f"max_stretch must be >= 1, got {value}", field="max_stretch")


@attrs.frozen(slots=True)
class TimingOptions:
    """Limits and resolution of the timing solver.

    Attributes:
        comfort: Stretch range that sounds natural; the solver leaves it only when no plan fits inside.
            The solver never slows a clip down (stretch >= 1), so the low end is met by construction.
        max_stretch: Hard cap on the stretch, never exceeded.
        min_gap: Silence kept between a clip's end and the next clip's start, in seconds.
        max_borrow_before: How far a clip may start before its slot start, in seconds.
        max_borrow_after: How far a clip may run past its slot end; ``None``: up to the next line (minus
            ``min_gap``), or to the next speaker's slot start, or to the end of the media.
        max_delay: How far a clip may start after its slot start, in seconds.
        smooth_within: Neighbours whose slots are at most this many seconds apart are smoothed together.
        time_step: Resolution of the start-time grid, in seconds.
        stretch_step: Resolution of the stretch grid, in ``log(stretch)`` (0.01 = about 1%).
        weights: The objective's weights.
    """

    comfort: tuple[float, float] = attrs.field(default=(0.85, 1.2), converter=_float_pair, validator=_comfort)
    max_stretch: float = attrs.field(default=1.35, validator=_cap)
    min_gap: float = attrs.field(default=0.08, validator=_finite_non_negative)
    max_borrow_before: float = attrs.field(default=0.25, validator=_finite_non_negative)
    max_borrow_after: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(_finite_non_negative)
    )
    max_delay: float = attrs.field(default=0.25, validator=_finite_non_negative)
    smooth_within: float = attrs.field(default=1.0, validator=_finite_non_negative)
    time_step: float = attrs.field(default=0.01, validator=_positive)
    stretch_step: float = attrs.field(default=0.01, validator=_positive)
    weights: TimingWeights = attrs.field(factory=TimingWeights)


class TimingFlag(str, Enum):
    """Why a placement deserves a reviewer's look."""

    OVER_COMFORT = "over_comfort"
    """Stretch above the comfortable range (but within the cap)."""
    AT_CAP = "at_cap"
    """Stretch at the hard cap."""
    OVERRUN = "overrun"
    """Even at the cap the clip runs past its window end (into the next speaker's slot, past
    ``max_borrow_after`` or past the end of the media); it still never overlaps the next clip."""
    LATE = "late"
    """The clip starts after ``slot_start + max_delay``, because the clips before it cannot end sooner at
    the cap; the only case where a start leaves its anchored window."""


@attrs.frozen(slots=True)
class Placement:
    """Where and how one line plays.

    Attributes:
        segment_id: The segment.
        candidate: Index of the chosen candidate.
        synth_rate: The synthesizer rate of the chosen rendition.
        start: Seconds at which the clip starts.
        end: Seconds at which it ends (after stretching).
        stretch: Tempo factor applied to the rendition (1.2 = 20% faster); >= 1.
        slot_start: The source segment's start.
        slot_end: The source segment's end.
        flags: What a reviewer should look at; empty when the placement is comfortable.
    """

    segment_id: str
    candidate: int
    synth_rate: float
    start: float
    end: float
    stretch: float
    slot_start: float
    slot_end: float
    flags: frozenset[TimingFlag] = frozenset()

    @property
    def offset(self) -> float:
        """Seconds between the clip's start and its slot start (negative: borrowed before)."""
        return self.start - self.slot_start

    def to_clip_timing(self, gain_db: float = 0.0) -> ClipTiming:
        """This placement as the fit stage's `ClipTiming`."""
        return ClipTiming(
            segment_id=self.segment_id,
            start=self.start,
            end=self.end,
            stretch=self.stretch,
            gain_db=gain_db,
            slot_start=self.slot_start,
            slot_end=self.slot_end,
        )


@attrs.frozen(slots=True)
class Plan:
    """The solver's answer for a whole job.

    Attributes:
        placements: One per line, in time order.
        feasible_within_comfort: Every stretch is inside the comfortable range and no line overran or
            started late.
        cost: The objective's value (for comparing plans and in tests).
    """

    placements: tuple[Placement, ...] = ()
    feasible_within_comfort: bool = True
    cost: float = 0.0

    def by_id(self) -> dict[str, Placement]:
        """Placements keyed by segment id."""
        return {p.segment_id: p for p in self.placements}

    def flagged(self) -> tuple[Placement, ...]:
        """Placements with at least one flag."""
        return tuple(p for p in self.placements if p.flags)

    def to_timing_plan(self) -> TimingPlan:
        """This plan as the fit stage's `TimingPlan` (gain 0 dB)."""
        return TimingPlan(timings=tuple(p.to_clip_timing() for p in self.placements))
