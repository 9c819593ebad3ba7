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

__all__ = ["ProbeStage", "media_at_source"]


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


def media_at_source(inputs: Artifacts) -> MediaInfo:
    """The probed media, pointing at this run's input file.

    A probe artifact taken from the cache names the file of the run that made it; the content is the
    same (the cache key holds the input's SHA-256) but the file may be elsewhere now, as when a job
    resumes on another machine. Stages that read the input's packets use this, with `SOURCE` among their
    inputs.
    """
    return attrs.evolve(inputs[MEDIA], path=inputs[SOURCE].path)
