"""Stage 10, mix: lay the clips over the background and normalise loudness."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dubkit.media import mix
from dubkit.models.media import DubbedAudio
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, DUBBED, STEMS, SYNTHESIS, TIMING
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["MixStage"]


class MixStage(BaseStage[DubbedAudio]):
    """Mixes over the separated background, or ducks the original audio when none was separated.

    Args:
        target_lufs: Integrated loudness of the result (EBU R128).
    """

    name = "mix"
    inputs = (AUDIO, STEMS, SYNTHESIS, TIMING)
    output = DUBBED

    def __init__(self, *, target_lufs: float = -16.0) -> None:
        self.target_lufs = target_lufs

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The loudness target."""
        return {"target_lufs": self.target_lufs}

    def run(self, ctx: StageContext, inputs: Artifacts) -> DubbedAudio:
        """Write the dubbed track into the stage folder."""
        ctx.progress(0.0, "mixing")
        return mix(
            inputs[TIMING],
            inputs[SYNTHESIS].clips,
            original=inputs[AUDIO].full,
            background=inputs[STEMS].background,
            out_path=ctx.work_dir / "dubbed.wav",
            target_lufs=self.target_lufs,
            cwd=ctx.work_dir,
        )
