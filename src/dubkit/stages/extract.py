"""Stage 2, extract: a 16 kHz mono analysis track and a full-quality track for mixing."""

from __future__ import annotations

from dubkit.media import extract_audio
from dubkit.models.media import ExtractedAudio
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, MEDIA, SOURCE
from dubkit.pipeline.stage import Artifacts, BaseStage
from dubkit.stages.probe import media_at_source

__all__ = ["ExtractStage"]


class ExtractStage(BaseStage[ExtractedAudio]):
    """Decodes the first audio stream twice: for analysis and for the mix."""

    name = "extract"
    inputs = (SOURCE, MEDIA)
    output = AUDIO

    def run(self, ctx: StageContext, inputs: Artifacts) -> ExtractedAudio:
        """Extract both tracks into the stage folder."""
        return extract_audio(media_at_source(inputs), ctx.work_dir, cwd=ctx.work_dir)
