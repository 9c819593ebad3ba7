"""Stage 10, mix: lay the clips over the background and normalise loudness (block by block, cached)."""

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
    """The clip the plan chose for each line or joined sentence (its candidate at its speaking rate).

    Raises:
        StageError: the plan names a clip the synthesis does not have.
    """
    by_choice = {
        (c.segment_id, c.candidate, round(c.voice.rate, 4)): c
        for c in (*synthesis.clips, *synthesis.joined, *synthesis.alternatives)
    }
    out = []
    for timing in plan.timings:
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
        """The loudness target."""
        return {"target_lufs": self.target_lufs}

    def run(self, ctx: StageContext, inputs: Artifacts) -> DubbedAudio:
        """Write the dubbed track into the stage folder.

        Rendered clips and mixed blocks are kept in the stage's unit cache, so a re-mix after an edit
        renders only the edited clip and the blocks it reaches.
        """
        ctx.progress(0.0, "mixing")
        plan = inputs[TIMING]
        return mix(
            plan,
            chosen_clips(inputs[SYNTHESIS], plan),
            original=inputs[AUDIO].full,
            background=inputs[STEMS].background,
            voice=inputs[STEMS].voice,
            out_path=ctx.work_dir / "dubbed.wav",
            target_lufs=self.target_lufs,
            cwd=ctx.work_dir,
            cache_dir=ctx.units().directory,
        )
