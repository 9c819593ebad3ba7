"""Stage 3, separate: split the full-quality audio into voice and background stems.

A `dubkit.backends.protocols.ResumableSeparator` (``demucs`` is one) keeps a checkpoint after each
chunk it separates, in the stage's unit cache, so a run killed half way through resumes there. A
`dubkit.backends.protocols.ReportingSeparator` (``demucs`` again) reports as it goes, and a cancelled run
stops inside the separation, between the model's segments.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import ReportingSeparator, ResumableSeparator, Separator
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
        message = f"separating with {self.separator.name}"
        ctx.progress(0.0, message)
        separator = self.separator.get()
        audio = inputs[AUDIO].full
        # The unit cache outlives a crashed attempt (the stage folder is emptied before each one).
        checkpoints = ctx.units().directory / "resume" if isinstance(separator, ResumableSeparator) else None
        if isinstance(separator, ReportingSeparator):
            report = ctx.reporter(time.monotonic(), message)
            stems = separator.separate_reporting(audio, ctx.work_dir, report, checkpoints)
        elif isinstance(separator, ResumableSeparator) and checkpoints is not None:
            stems = separator.separate_resumably(audio, ctx.work_dir, checkpoints)
        else:
            stems = separator.separate(audio, ctx.work_dir)
        ctx.progress(1.0)
        return stems

    def close(self) -> None:
        """Free the separator."""
        self.separator.close()
