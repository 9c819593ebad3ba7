"""Fast stand-in backends for the server's tests, with gates a test can close to hold jobs in transcribe, or a
re-dub while it voices a line that says `HOLD`."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from dubkit import PipelineConfig
from dubkit.backends import BaseTranscriber, NoOptions, Registry
from dubkit.jobs import WarmPipelines
from dubkit.models import AudioFile, SpeechRegion, Transcript, TranscriptSegment, Voice

CONFIG = PipelineConfig(
    vad="energy", diarizer="single", transcriber="regions", translator="shout", synthesizer="gated-voice"
)
HOLD = "HOLD"
"""A line whose text holds this waits at the voice gate while it is voiced."""


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


def make_registry(gate: TranscribeGate, voice_gate: TranscribeGate | None = None) -> Registry:
    """The installed backends plus ``regions``, a transcriber with one line per speech region, and
    ``gated-voice``, the sample plugin's sine voice that waits at ``voice_gate`` on a line saying `HOLD`."""
    from dubkit_sample_plugin.voice import SineVoice

    held = voice_gate or TranscribeGate()

    class GatedVoice(SineVoice):
        def synthesize(self, text: str, voice: Voice, out_path: Path) -> AudioFile:
            if HOLD in text:
                held.entered.set()
                held.opened.wait(30)
            return super().synthesize(text, voice, out_path)

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
    registry.register("synthesizer", "gated-voice", GatedVoice)
    return registry


def job_pipelines(registry: Registry) -> WarmPipelines:
    """Per-job pipelines on the stand-ins (a job may still choose other registered backends)."""
    return WarmPipelines(CONFIG, registry=registry)
