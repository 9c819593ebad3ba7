"""Stage 1, probe: identify the input and reject anything that is not acceptable media."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from dubkit.media import MediaLimits, probe
from dubkit.models.media import MediaInfo
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import MEDIA, SOURCE
from dubkit.pipeline.stage import Artifacts, BaseStage, RunRequest

__all__ = ["ProbeStage"]


class ProbeStage(BaseStage[MediaInfo]):
    """Runs `dubkit.media.probe` with the configured limits."""

    name = "probe"
    inputs = (SOURCE,)
    output = MEDIA

    def __init__(self, limits: MediaLimits | None = None) -> None:
        self.limits = limits or MediaLimits()

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """The limits applied."""
        return {"limits": attrs.asdict(self.limits)}

    def run(self, ctx: StageContext, inputs: Artifacts) -> MediaInfo:
        """Probe the input file."""
        return probe(inputs[SOURCE].path, limits=self.limits, cwd=ctx.work_dir)
