"""The separate stage: a resumable separator gets a checkpoint folder that outlives the stage's folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import BackendKind
from dubkit.pipeline import Pipeline
from dubkit.pipeline.keys import STEMS
from dubkit.testing import make_sample_video
from dubkit.testing.sample_video import DEFAULT_SCRIPT

pytest.importorskip("demucs")


def test_demucs_separates_through_the_stage_with_checkpoints_in_the_unit_cache(tmp_path: Path) -> None:
    from tests.backends.tiny_models import demucs_model

    model = demucs_model(tmp_path / "tiny.th")
    video = make_sample_video(tmp_path / "short.mp4", script=DEFAULT_SCRIPT[:2])
    options = {"model": str(model), "shifts": 0, "chunk_seconds": 2.0, "crossfade_seconds": 0.5}
    config = PipelineConfig(separator="demucs", backend_options={BackendKind.SEPARATOR: options})
    with build_pipeline(config) as full, Pipeline(full.stages[:3]) as pipeline:
        result = pipeline.run(video.path, to="es", source_language="en", run_dir=tmp_path / "run")
    stems = result.artifacts[STEMS]
    assert stems.voice is not None and stems.background is not None
    assert stems.background.duration == pytest.approx(video.duration, abs=0.05)
    checkpoints = tmp_path / "run" / "units" / "separate" / "resume"
    assert checkpoints.is_dir()  # the separation kept its checkpoints there while it ran
    assert not list(checkpoints.iterdir()), "a finished separation leaves nothing behind"
