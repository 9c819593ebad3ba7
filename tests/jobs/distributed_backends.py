"""Fast stand-in backends for the distributed runner's worker subprocess (importable by path)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import BaseTranscriber, NoOptions, Registry
from dubkit.models import AudioFile, SpeechRegion, Transcript, TranscriptSegment
from dubkit.pipeline.pipeline import Pipeline

CONFIG = PipelineConfig(
    vad="energy", diarizer="single", transcriber="regions", translator="shout", synthesizer="sine-voice"
)


class RegionTranscriber(BaseTranscriber[NoOptions]):
    """One segment per region; sleeps ``DUBKIT_TEST_TRANSCRIBE_SLEEP`` seconds first (0 by default)."""

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        time.sleep(float(os.environ.get("DUBKIT_TEST_TRANSCRIBE_SLEEP", "0")))
        return Transcript(
            language=language or "en",
            segments=tuple(
                TranscriptSegment(id=f"r{i}", start=r.start, end=r.end, text=f"this is line number {i}")
                for i, r in enumerate(regions)
            ),
        )


def make_pipeline() -> Pipeline:
    registry = Registry()
    registry.register("transcriber", "regions", RegionTranscriber)
    return build_pipeline(CONFIG, registry=registry)
