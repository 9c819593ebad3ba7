"""Stage 10, mix: lay the clips over the background and normalise loudness (block by block, cached).

A line kept in its original speech (``ClipTiming.source_audio``) plays the separated voice stem's slice
of its slot over the background; with no separation there is nothing to add: the original audio under
it is simply not ducked there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dubkit.errors import StageError
from dubkit.media import mix
from dubkit.models.media import DubbedAudio
from dubkit.models.speech import Clip, Synthesis, TimingPlan
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, DUBBED, STEMS, SYNTHESIS, TIMING
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["MixStage", "chosen_clips"]


def chosen_clips(synthesis: Synthesis, plan: TimingPlan) -> list[Clip]:
    """The clip the plan chose for each dubbed line or joined sentence (its candidate at its speaking rate).

    Lines kept in their original speech (``ClipTiming.source_audio``) have no dubbed clip and are left out.

    Raises:
        StageError: the plan names a clip the synthesis does not have.
    """
    by_choice = {
        (c.segment_id, c.candidate, round(c.voice.rate, 4)): c
        for c in (*synthesis.clips, *synthesis.joined, *synthesis.alternatives)
    }
    out = []
    for timing in plan.timings:
        if timing.source_audio:
            continue
        clip = by_choice.get((timing.segment_id, timing.candidate, round(timing.rate, 4)))
        if clip is None:
            raise StageError(
                "mix", f"no clip for {timing.segment_id} (candidate {timing.candidate}, rate {timing.rate})"
            )
        out.append(clip)
    return out


class MixStage(BaseStage[DubbedAudio]):
    """Mixes over the separated stems (the voice stem ducked under the dub), or ducks the original audio.

    Args:
        target_lufs: Integrated loudness of the result (EBU R128).
    """

    name = "mix"
    version = "3"
    inputs = (AUDIO, STEMS, SYNTHESIS, TIMING)
    output = DUBBED

    def __init__(self, *, target_lufs: float = -16.0) -> None:
        self.target_lufs = target_lufs

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The loudness target (and on a re-dub, the gain to keep)."""
        out: dict[str, Any] = {"target_lufs": self.target_lufs}
        if request.keep_gain_db is not None:
            out["keep_gain_db"] = request.keep_gain_db
        return out

    def run(self, ctx: StageContext, inputs: Artifacts) -> DubbedAudio:
        """Write the dubbed track into the stage folder.

        Rendered clips and mixed blocks are kept in the stage's unit cache, so a re-mix after an edit
        renders only the edited clip and the blocks it reaches.
        """
        ctx.progress(0.0, "mixing")
        stems = inputs[STEMS]
        # A line kept in its original speech plays no dub: out of the plan, nothing ducks the original
        # there, and the bed is the whole original between dubbed lines (voice stem or not).
        plan = TimingPlan(tuple(t for t in inputs[TIMING].timings if not t.source_audio))
        return mix(
            plan,
            chosen_clips(inputs[SYNTHESIS], plan),
            original=inputs[AUDIO].full,
            background=stems.background,
            voice=stems.voice,
            out_path=ctx.work_dir / "dubbed.wav",
            target_lufs=self.target_lufs,
            cwd=ctx.work_dir,
            cache_dir=ctx.units().directory,
            keep_gain_db=ctx.request.keep_gain_db,
        )
