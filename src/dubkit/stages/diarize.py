"""Stage 5, diarize: who speaks when."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import Diarizer
from dubkit.models.speech import Diarization
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, SPEAKERS, SPEECH
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["DiarizeStage"]


class DiarizeStage(BaseStage[Diarization]):
    """Runs a diarizer over the speech regions."""

    name = "diarize"
    inputs = (AUDIO, SPEECH)
    output = SPEAKERS

    def __init__(self, diarizer: BackendBinding[Diarizer]) -> None:
        self.diarizer = diarizer

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The diarizer's identity."""
        return {"backend": self.diarizer.fingerprint()}

    def run(self, ctx: StageContext, inputs: Artifacts) -> Diarization:
        """Speaker turns, in time order."""
        regions = inputs[SPEECH].regions
        if not regions:
            return Diarization()
        turns = sorted(self.diarizer.get().diarize(inputs[AUDIO].analysis, regions), key=lambda t: t.start)
        result = Diarization(turns=tuple(turns))
        ctx.progress(1.0, f"{len(result.speakers)} speakers")
        return result

    def close(self) -> None:
        """Free the diarizer."""
        self.diarizer.close()
