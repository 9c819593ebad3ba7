"""The fast stand-in backends of the job tests: the stand-in plugin's transcriber, the sample plugin's
translator and synthesizer, and dubkit's energy VAD and single-speaker diarizer (no model anywhere)."""

from __future__ import annotations

from dubkit import PipelineConfig
from dubkit.backends import BackendKind


def config(sleep: float = 0.0, transcriber: str = "standin-regions") -> PipelineConfig:
    """The stand-in pipeline's settings; the transcriber sleeps ``sleep`` seconds per job."""
    return PipelineConfig(
        vad="energy",
        diarizer="single",
        transcriber=transcriber,
        translator="shout",
        synthesizer="sine-voice",
        backend_options={BackendKind.TRANSCRIBER: {"sleep": sleep}} if sleep else {},
    )
