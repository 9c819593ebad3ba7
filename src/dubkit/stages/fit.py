"""Stage 9, fit: one timing plan for the whole job (``dubkit.timing.plan_timing``).

Each line is anchored to its own source slot, may borrow silence around it, never overlaps the next
line or runs into another speaker's slot, and keeps its tempo within 0.85-1.2x where it can (hard
cap 1.35x). Lines too long for their slot choose, in order of preference, a shorter translation
candidate, a faster speaking rate (both voiced by the synthesize stage), then time-stretching.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import attrs

from dubkit.models.speech import Clip, ClipTiming, TimingPlan
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import MEDIA, SYNTHESIS, TIMING, TRANSCRIPT
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest
from dubkit.timing import Candidate, Line, TimingOptions, plan_timing

__all__ = ["FitOptions", "FitStage"]


@attrs.frozen
class FitOptions:
    """Timing limits.

    Attributes:
        max_stretch: The fastest a clip may be played (1.35 = 35% faster).
        min_gap: Silence kept before the next line, in seconds.
        comfort: The tempo range that sounds natural; leaving it is flagged and avoided where possible.
        max_borrow_before: How early a line may start before its source slot, seconds.
        max_delay: How late a line may start after its source slot, seconds.
    """

    max_stretch: float = 1.35
    min_gap: float = 0.08
    comfort: tuple[float, float] = (0.85, 1.2)
    max_borrow_before: float = 0.25
    max_delay: float = 0.25


def _candidates(first: Clip, options: list[Clip]) -> tuple[list[Candidate], dict[tuple[int, float], float]]:
    """Solver candidates (durations per relative rate) and the map back to the clips' absolute rates."""
    base = first.voice.rate or 1.0
    durations: dict[int, dict[float, float]] = defaultdict(dict)
    absolute: dict[tuple[int, float], float] = {}
    for clip in options:
        relative = round(clip.voice.rate / base, 4)
        durations[clip.candidate][relative] = clip.duration
        absolute[(clip.candidate, relative)] = clip.voice.rate
    return [Candidate(index=k, durations=d) for k, d in sorted(durations.items())], absolute


class FitStage(BaseStage[TimingPlan]):
    """Plans every clip at once with the timing solver."""

    name = "fit"
    version = "2"
    inputs = (MEDIA, TRANSCRIPT, SYNTHESIS)
    output = TIMING

    def __init__(self, options: FitOptions | None = None) -> None:
        self.options = options or FitOptions()

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The timing limits."""
        return {"options": attrs.asdict(self.options)}

    def run(self, ctx: StageContext, inputs: Artifacts) -> TimingPlan:
        """Plan every clip."""
        synthesis = inputs[SYNTHESIS]
        segments = {s.id: s for s in inputs[TRANSCRIPT].segments}
        lines, rates = [], {}
        for clip in synthesis.clips:
            seg = segments[clip.segment_id]
            candidates, absolute = _candidates(clip, synthesis.options_for(clip.segment_id))
            rates[clip.segment_id] = absolute
            lines.append(Line(clip.segment_id, seg.start, seg.end, seg.speaker, candidates))
        opts = self.options
        plan = plan_timing(
            lines,
            inputs[MEDIA].duration,
            TimingOptions(
                comfort=opts.comfort,
                max_stretch=opts.max_stretch,
                min_gap=opts.min_gap,
                max_borrow_before=opts.max_borrow_before,
                max_delay=opts.max_delay,
            ),
        )
        timings = []
        for placement in plan.placements:
            timing = placement.to_clip_timing()
            rate = rates[placement.segment_id].get((placement.candidate, round(placement.synth_rate, 4)), 1.0)
            timings.append(
                attrs.evolve(
                    timing,
                    candidate=placement.candidate,
                    rate=rate,
                    flags=tuple(sorted(f.value for f in placement.flags)),
                )
            )
        flagged = sum(1 for t in timings if t.flags)
        ctx.progress(1.0, f"{len(timings)} clips placed, {flagged} flagged")
        return TimingPlan(timings=tuple(_sorted(timings)))


def _sorted(timings: list[ClipTiming]) -> list[ClipTiming]:
    return sorted(timings, key=lambda t: t.start)
