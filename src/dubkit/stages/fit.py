"""Stage 9, fit: decide where each clip plays and how much it is time-stretched.

This is the simple per-clip planner: each clip starts at its source segment's start (so timing error
never accumulates), may run into the silence before the next segment, and is sped up only by what it
still overruns, up to ``max_stretch``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from dubkit.models.speech import ClipTiming, TimingPlan
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import MEDIA, SYNTHESIS, TIMING, TRANSCRIPT
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["FitOptions", "FitStage"]


@attrs.frozen
class FitOptions:
    """Timing limits.

    Attributes:
        max_stretch: The fastest a clip may be played (1.35 = 35% faster).
        min_gap: Silence kept before the next line, in seconds.
    """

    max_stretch: float = 1.35
    min_gap: float = 0.05


class FitStage(BaseStage[TimingPlan]):
    """Anchors every clip at its segment start and stretches only what overruns its window."""

    name = "fit"
    inputs = (MEDIA, TRANSCRIPT, SYNTHESIS)
    output = TIMING

    def __init__(self, options: FitOptions | None = None) -> None:
        self.options = options or FitOptions()

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The timing limits."""
        return {"options": attrs.asdict(self.options)}

    def run(self, ctx: StageContext, inputs: Artifacts) -> TimingPlan:
        """Plan every clip."""
        media = inputs[MEDIA]
        segments = {s.id: s for s in inputs[TRANSCRIPT].segments}
        clips = sorted(inputs[SYNTHESIS].clips, key=lambda c: segments[c.segment_id].start)
        timings = []
        for i, clip in enumerate(clips):
            seg = segments[clip.segment_id]
            next_start = segments[clips[i + 1].segment_id].start if i + 1 < len(clips) else media.duration
            window = max(seg.duration, next_start - seg.start - self.options.min_gap, 1e-3)
            stretch = min(max(clip.duration / window, 1.0), self.options.max_stretch)
            start = seg.start
            timings.append(
                ClipTiming(
                    segment_id=clip.segment_id,
                    start=start,
                    end=start + clip.duration / stretch,
                    stretch=stretch,
                    slot_start=seg.start,
                    slot_end=seg.end,
                    candidate=clip.candidate,
                    rate=clip.voice.rate,
                )
            )
        ctx.progress(1.0, f"{len(timings)} clips placed")
        return TimingPlan(timings=tuple(timings))
