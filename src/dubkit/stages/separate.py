"""Stage 3, separate: split the full-quality audio into voice and background stems."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import Separator
from dubkit.models.media import Stems
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import AUDIO, STEMS
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["SeparateStage"]


class SeparateStage(BaseStage[Stems]):
    """Runs a `dubkit.backends.protocols.Separator` (``none`` keeps the original for ducking)."""

    name = "separate"
    inputs = (AUDIO,)
    output = STEMS

    def __init__(self, separator: BackendBinding[Separator]) -> None:
        self.separator = separator

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The separator's identity."""
        return {"backend": self.separator.fingerprint()}

    def run(self, ctx: StageContext, inputs: Artifacts) -> Stems:
        """Separate the full-quality track."""
        ctx.progress(0.0, f"separating with {self.separator.name}")
        stems = self.separator.get().separate(inputs[AUDIO].full, ctx.work_dir)
        ctx.progress(1.0)
        return stems

    def close(self) -> None:
        """Free the separator."""
        self.separator.close()
