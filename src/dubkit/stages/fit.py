"""Stage 9, fit: one timing plan for the whole job (``dubkit.timing.plan_timing``).

A sentence of several lines can play as its pieces (each in its line's slot) or as one clip across its
pauses; each such sentence takes the layout the solver scores better, judged between its neighbours.

Each line is anchored to its own source slot, may borrow silence around it, never overlaps the next
line or runs into another speaker's slot, and keeps its tempo within 0.85-1.2x where it can (hard
cap 1.35x). Lines too long for their slot choose, in order of preference, a shorter translation
candidate, a faster speaking rate (both voiced by the synthesize stage), then time-stretching.

A line a person marked to keep its original speech (``RunRequest.keep_original``) is planned as a clip
exactly as long as its slot, so its neighbours leave it its room, and placed on its slot unstretched
(``ClipTiming.source_audio``); a sentence with such a line plays as its pieces.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

import attrs

from dubkit.models.speech import Clip, ClipTiming, TimingPlan, TranscriptSegment
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import MEDIA, SYNTHESIS, TIMING, TRANSCRIPT, TRANSLATION
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
        join_penalty: What playing a sentence of several lines as one clip across its pauses costs in
            the solver's objective, over the plan of its pieces (0.15: about a 9% stretch of one piece,
            or 0.15 s of start offset), so that pieces that fit well keep the speaker's pauses.
    """

    max_stretch: float = 1.35
    min_gap: float = 0.08
    comfort: tuple[float, float] = (0.85, 1.2)
    max_borrow_before: float = 0.25
    max_delay: float = 0.25
    join_penalty: float = 0.15


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
    """Plans every clip at once with the timing solver.

    For each sentence of several lines it chooses between its pieces and one clip across its pauses
    (see the module notes).
    """

    name = "fit"
    version = "3"
    inputs = (MEDIA, TRANSCRIPT, TRANSLATION, SYNTHESIS)
    output = TIMING

    def __init__(self, options: FitOptions | None = None) -> None:
        self.options = options or FitOptions()

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The timing limits, and the lines kept in their original speech (when there are any)."""
        out: dict[str, Any] = {"options": attrs.asdict(self.options)}
        if request.keep_original:
            out["keep_original"] = list(request.keep_original)
        return out

    def _timing_options(self) -> TimingOptions:
        opts = self.options
        return TimingOptions(
            comfort=opts.comfort,
            max_stretch=opts.max_stretch,
            min_gap=opts.min_gap,
            max_borrow_before=opts.max_borrow_before,
            max_delay=opts.max_delay,
        )

    def run(self, ctx: StageContext, inputs: Artifacts) -> TimingPlan:
        """Choose each sentence's layout, then plan every clip."""
        synthesis = inputs[SYNTHESIS]
        segments = {s.id: s for s in inputs[TRANSCRIPT].segments}
        duration = inputs[MEDIA].duration
        rates: dict[str, dict[tuple[int, float], float]] = {}

        def line(first: Clip, ids: tuple[str, ...]) -> Line:
            candidates, absolute = _candidates(first, synthesis.options_for(first.segment_id))
            rates[first.segment_id] = absolute
            start, end = segments[ids[0]].start, segments[ids[-1]].end
            return Line(first.segment_id, start, end, segments[ids[0]].speaker, candidates)

        kept = {i for i in ctx.request.keep_original if i in segments}
        pieces = [
            line(clip, (clip.segment_id,))
            for clip in synthesis.clips
            if clip.segment_id in segments and clip.segment_id not in kept
        ]
        pieces += [_original_line(segments[i]) for i in sorted(kept)]
        sentences = {s.id: s for s in inputs[TRANSLATION].sentence_units()}
        layouts: list[tuple[list[Line], Line]] = []
        for clip in synthesis.joined:
            sentence = sentences.get(clip.segment_id)
            if sentence is None or not all(i in segments for i in sentence.segment_ids):
                continue
            if kept.intersection(sentence.segment_ids):
                continue
            members = set(sentence.segment_ids)
            split = [p for p in pieces if p.segment_id in members]
            if len(split) >= 2:
                layouts.append((split, line(clip, sentence.segment_ids)))
        lines = self._choose_layouts(pieces, layouts, duration)
        plan = plan_timing(lines, duration, self._timing_options())
        timings = []
        for placement in plan.placements:
            if placement.segment_id in kept:
                timings.append(_original_timing(segments[placement.segment_id]))
                continue
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
        joined = sum(1 for chosen in lines if chosen.segment_id not in segments)
        ctx.progress(1.0, f"{len(timings)} clips placed ({joined} joined sentences), {flagged} flagged")
        return TimingPlan(timings=tuple(_sorted(timings)))

    def _choose_layouts(
        self, pieces: list[Line], layouts: list[tuple[list[Line], Line]], duration: float
    ) -> list[Line]:
        """Every line to place: each sentence's pieces, or its joined clip where the solver scores it better.

        Each sentence is judged on its own, between the line before it and the line after it: the plan of
        its pieces against the plan of its joined clip (plus ``join_penalty``, so a tie keeps the pieces).
        """
        options = self._timing_options()
        ordered = sorted(pieces, key=lambda p: (p.slot_start, p.slot_end))
        position = {p.segment_id: i for i, p in enumerate(ordered)}
        chosen: dict[str, Line] = {}
        replaced: set[str] = set()
        for split, joined in layouts:
            first = min(position[p.segment_id] for p in split)
            last = max(position[p.segment_id] for p in split)
            before = ordered[first - 1 : first] if first > 0 else []
            after = ordered[last + 1 : last + 2]
            apart = plan_timing([*before, *split, *after], duration, options).cost
            together = plan_timing([*before, joined, *after], duration, options).cost
            if together + self.options.join_penalty < apart:
                chosen[joined.segment_id] = joined
                replaced.update(p.segment_id for p in split)
        return [p for p in pieces if p.segment_id not in replaced] + list(chosen.values())


def _original_line(segment: TranscriptSegment) -> Line:
    """A line kept in its original speech: one clip exactly as long as its slot, at the voice's own rate."""
    return Line(
        segment.id,
        segment.start,
        segment.end,
        segment.speaker,
        [Candidate(index=0, durations={1.0: max(segment.end - segment.start, 0.01)})],
    )


def _original_timing(segment: TranscriptSegment) -> ClipTiming:
    """A kept line's placement: its own slot, unstretched."""
    return ClipTiming(
        segment_id=segment.id,
        start=segment.start,
        end=segment.end,
        slot_start=segment.start,
        slot_end=segment.end,
        source_audio=True,
    )


def _sorted(timings: list[ClipTiming]) -> list[ClipTiming]:
    return sorted(timings, key=lambda t: t.start)
