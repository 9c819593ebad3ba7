"""Stage 3, separate: split the full-quality audio into voice and background stems.

A `dubkit.backends.protocols.ResumableSeparator` (``demucs`` is one) keeps a checkpoint after each
chunk it separates, in the stage's unit cache, so a run killed half way through resumes there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import ResumableSeparator, Separator
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
        separator = self.separator.get()
        if isinstance(separator, ResumableSeparator):
            # The unit cache outlives a crashed attempt (the stage folder is emptied before each one).
            checkpoints = ctx.units().directory / "resume"
            stems = separator.separate_resumably(inputs[AUDIO].full, ctx.work_dir, checkpoints)
        else:
            stems = separator.separate(inputs[AUDIO].full, ctx.work_dir)
        ctx.progress(1.0)
        return stems

    def close(self) -> None:
        """Free the separator."""
        self.separator.close()
