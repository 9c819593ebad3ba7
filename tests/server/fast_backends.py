"""Fast stand-in backends for the server's tests, with a gate a test can close to hold jobs in transcribe."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from dubkit import PipelineConfig
from dubkit.backends import BaseTranscriber, NoOptions, Registry
from dubkit.jobs import WarmPipelines
from dubkit.models import AudioFile, SpeechRegion, Transcript, TranscriptSegment

CONFIG = PipelineConfig(
    vad="energy", diarizer="single", transcriber="regions", translator="shout", synthesizer="sine-voice"
)


class TranscribeGate:
    """Open by default; a closed gate holds every transcription until it opens (or 30 s pass)."""

    def __init__(self) -> None:
        self.opened = threading.Event()
        self.opened.set()
        self.entered = threading.Event()

    def close(self) -> None:
        self.entered.clear()
        self.opened.clear()

    def open(self) -> None:
        self.opened.set()


def make_registry(gate: TranscribeGate) -> Registry:
    """The installed backends plus ``regions``, a transcriber with one line per speech region."""

    class RegionTranscriber(BaseTranscriber[NoOptions]):
        def transcribe(
            self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
        ) -> Transcript:
            gate.entered.set()
            gate.opened.wait(30)
            return Transcript(
                language=language or "en",
                segments=tuple(
                    TranscriptSegment(id=f"r{i}", start=r.start, end=r.end, text=f"this is line number {i}")
                    for i, r in enumerate(regions)
                ),
            )

    registry = Registry()
    registry.register("transcriber", "regions", RegionTranscriber)
    return registry


def job_pipelines(registry: Registry) -> WarmPipelines:
    """Per-job pipelines on the stand-ins (a job may still choose other registered backends)."""
    return WarmPipelines(CONFIG, registry=registry)
