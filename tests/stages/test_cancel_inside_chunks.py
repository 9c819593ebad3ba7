"""A cancelled run stops inside a transcription chunk and inside a separation chunk, not at their ends.

The stages hand a `ReportingTranscriber` / `ReportingSeparator` a progress callback that raises
`CancelledError` once the run's token is cancelled; here the token is cancelled from the progress hook at
the first report from inside the chunk, and the run must stop before the chunk is done.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import BackendKind
from dubkit.errors import CancelledError
from dubkit.pipeline import Pipeline
from dubkit.pipeline.progress import CancelToken, ProgressEvent, ProgressState
from dubkit.testing import SampleVideo


class CancelInside:
    """A progress hook that cancels ``token`` at the first report of ``stage`` from inside a unit."""

    def __init__(self, stage: str, token: CancelToken) -> None:
        self.stage = stage
        self.token = token
        self.events: list[ProgressEvent] = []

    def __call__(self, event: ProgressEvent) -> None:
        if event.stage != self.stage:
            return
        self.events.append(event)
        inside = event.state is ProgressState.RUNNING and 0.0 < event.fraction < 1.0
        if inside and not self.token.cancelled:
            self.cancelled_at = event.fraction
            self.token.cancel()


def run_until_cancelled(pipeline: Pipeline, sample: SampleVideo, run_dir: Path, stage: str) -> CancelInside:
    token = CancelToken()
    hook = CancelInside(stage, token)
    with pytest.raises(CancelledError) as raised:
        pipeline.run(sample.path, to="es", source_language="en", run_dir=run_dir, progress=hook, cancel=token)
    assert raised.value.stage == stage
    assert token.cancelled
    return hook


@pytest.mark.models
@pytest.mark.parametrize(
    "options",
    [
        {"beam_size": 1, "block_seconds": 4.0, "batch_size": 0},  # sequential: several blocks
        {"beam_size": 1, "pack_regions": False, "batch_size": 1},  # batched: a window per region
    ],
    ids=["sequential", "batched"],
)
def test_a_cancel_stops_transcription_inside_its_chunk(
    tmp_path: Path, sample: SampleVideo, options: dict[str, object]
) -> None:
    # the 24 s talk is one chunk
    config = PipelineConfig(
        vad="energy", diarizer="single", backend_options={BackendKind.TRANSCRIBER: options}
    )
    with build_pipeline(config) as full, Pipeline(full.stages[:6]) as pipeline:
        hook = run_until_cancelled(pipeline, sample, tmp_path / "run", "transcribe")
    reports = [e for e in hook.events if e.state is ProgressState.RUNNING]
    assert reports[-1].fraction < 1.0 and reports[-1].message.startswith("chunk 1/1")
    assert reports[-1].fraction == hook.cancelled_at  # nothing was decoded after the cancel
    units = tmp_path / "run" / "units" / "transcribe"
    assert not units.is_dir() or not any(units.rglob("*.json"))  # the chunk never finished


def test_a_cancel_stops_separation_inside_its_chunk(tmp_path: Path, sample: SampleVideo) -> None:
    pytest.importorskip("demucs")
    from tests.backends.tiny_models import demucs_model

    model = demucs_model(tmp_path / "tiny.th")
    options = {"model": str(model), "shifts": 0}  # one 60 s chunk; the tiny model's segments are 1 s
    config = PipelineConfig(separator="demucs", backend_options={BackendKind.SEPARATOR: options})
    with build_pipeline(config) as full, Pipeline(full.stages[:3]) as pipeline:
        hook = run_until_cancelled(pipeline, sample, tmp_path / "run", "separate")
    reports = [e.fraction for e in hook.events if e.state is ProgressState.RUNNING]
    assert 0.0 < hook.cancelled_at < 0.2  # cancelled at the first segments of the chunk
    assert max(reports) < 0.2  # and the model ran on no segment after it
    stage_dirs = list((tmp_path / "run" / "stages").glob("separate-*"))
    assert all(not (d / "voice.wav").exists() for d in stage_dirs)  # no stem was finished
