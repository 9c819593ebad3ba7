"""The vad stage: long tracks detected chunk by chunk, cut at silences, each chunk a checkpoint."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from dubkit import CancelledError, PipelineConfig, ProgressEvent, build_pipeline
from dubkit.backends.protocols import BackendKind
from dubkit.models import SpeechRegion
from dubkit.pipeline import CancelToken, Pipeline
from dubkit.pipeline.keys import SPEECH
from dubkit.pipeline.progress import ProgressState
from dubkit.testing import SampleVideo

from .chunk_runs import kill_and_resume


def _regions(
    sample: SampleVideo, run_dir: Path, *, vad: str, chunk_seconds: float
) -> tuple[SpeechRegion, ...]:
    """The first four stages (probe to vad) of a pipeline whose VAD reads ``chunk_seconds`` at a time."""
    config = PipelineConfig(vad=vad, diarizer="single", vad_chunk_seconds=chunk_seconds)
    with build_pipeline(config) as full, Pipeline(full.stages[:4]) as pipeline:
        result = pipeline.run(sample.path, to="es", source_language="en", run_dir=run_dir)
    return tuple(result.artifacts[SPEECH].regions)


def _silero_in_blocks(block_seconds: float) -> PipelineConfig:
    return PipelineConfig(
        vad="silero", diarizer="single", backend_options={BackendKind.VAD: {"block_seconds": block_seconds}}
    )


def test_a_dub_killed_during_vad_resumes_at_the_last_finished_chunk(
    tmp_path: Path, sample: SampleVideo
) -> None:
    kill_and_resume("vad", sample, tmp_path, 6.0)


def test_chunked_detection_finds_the_regions_of_a_whole_file_pass(
    tmp_path: Path, sample: SampleVideo
) -> None:
    whole = _regions(sample, tmp_path / "whole", vad="energy", chunk_seconds=3600.0)
    chunked = _regions(sample, tmp_path / "chunked", vad="energy", chunk_seconds=10.0)
    assert len(list((tmp_path / "chunked" / "units" / "vad").glob("*.json"))) >= 2, "several chunks"
    # Cut at silences, the chunks find the same regions (to tens of milliseconds); every line is heard.
    assert len(chunked) == len(whole)
    for a, b in zip(chunked, whole, strict=True):
        assert abs(a.start - b.start) < 0.1
        assert abs(a.end - b.end) < 0.1
    for line in sample.lines:
        heard = sum(max(0.0, min(r.end, line.end) - max(r.start, line.start)) for r in chunked)
        assert heard >= 0.8 * (line.end - line.start)


def test_a_detector_that_streams_whole_files_is_never_cut(tmp_path: Path, sample: SampleVideo) -> None:
    """Silero reads files in blocks itself, and a cut would restart its state: it gets the whole track."""
    whole = _regions(sample, tmp_path / "whole", vad="silero", chunk_seconds=3600.0)
    asked_in_chunks = _regions(sample, tmp_path / "chunked", vad="silero", chunk_seconds=10.0)
    assert asked_in_chunks == whole
    assert not list((tmp_path / "chunked" / "units" / "vad").glob("*.json"))


def test_a_streaming_detector_reports_what_it_has_read_and_the_time_left(
    tmp_path: Path, sample: SampleVideo
) -> None:
    events: list[ProgressEvent] = []
    with build_pipeline(_silero_in_blocks(4.0)) as full, Pipeline(full.stages[:4]) as pipeline:
        pipeline.run(sample.path, to="es", source_language="en", run_dir=tmp_path, progress=events.append)
    reads = [e for e in events if e.stage == "vad" and e.message.endswith("s left")]
    assert len(reads) >= 5  # a ~24 s track in 4 s blocks
    assert all(a.fraction <= b.fraction for a, b in itertools.pairwise(reads))
    assert reads[-1].fraction == 1.0 and reads[-1].eta_seconds == 0.0
    assert all(e.eta_seconds is not None and e.eta_seconds >= 0 for e in reads)
    assert "% read" in reads[0].message


def test_a_cancelled_run_stops_a_streaming_detector_between_blocks(
    tmp_path: Path, sample: SampleVideo
) -> None:
    token = CancelToken()
    reads: list[float] = []

    def cancel_at_the_first_block(event: ProgressEvent) -> None:
        if event.stage == "vad" and event.state is ProgressState.RUNNING:
            reads.append(event.fraction)
            token.cancel()

    with (
        build_pipeline(_silero_in_blocks(4.0)) as full,
        Pipeline(full.stages[:4]) as pipeline,
        pytest.raises(CancelledError) as info,
    ):
        pipeline.run(
            sample.path,
            to="es",
            source_language="en",
            run_dir=tmp_path,
            progress=cancel_at_the_first_block,
            cancel=token,
        )
    assert info.value.stage == "vad"
    assert reads and reads[-1] < 0.5  # stopped after its first blocks, not at the end of the file
    assert not list(tmp_path.glob("stages/vad-*/artifact.json"))
