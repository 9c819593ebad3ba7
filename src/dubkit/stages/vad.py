"""Stage 4, vad: find where speech is in the analysis track."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import VoiceActivityDetector
from dubkit.models.speech import VoiceActivity
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, SPEECH
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["VadStage"]


class VadStage(BaseStage[VoiceActivity]):
    """Runs a voice-activity detector over the 16 kHz mono analysis track."""

    name = "vad"
    inputs = (AUDIO,)
    output = SPEECH

    def __init__(self, detector: BackendBinding[VoiceActivityDetector]) -> None:
        self.detector = detector

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The detector's identity."""
        return {"backend": self.detector.fingerprint()}

    def run(self, ctx: StageContext, inputs: Artifacts) -> VoiceActivity:
        """Detect speech regions, sorted and clipped to the audio."""
        audio = inputs[AUDIO].analysis
        regions = sorted(self.detector.get().detect(audio), key=lambda r: r.start)
        kept = tuple(r for r in regions if r.end > r.start and r.start < audio.duration)
        ctx.progress(1.0, f"{len(kept)} regions")
        return VoiceActivity(regions=kept)

    def close(self) -> None:
        """Free the detector."""
        self.detector.close()
