"""The transcribe stage: chunking at region boundaries, and per-chunk checkpoints that survive SIGKILL."""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import Registry
from dubkit.models import SpeechRegion, TranscriptSegment, Word
from dubkit.stages.transcribe import chunk_regions, merge_repeated_lines
from dubkit.testing import SampleVideo, make_sample_video

from .transcribe_worker import CountingTranscriber

WORKER = Path(__file__).with_name("transcribe_worker.py")
CHUNK_SECONDS = 6.0


@st.composite
def region_lists(draw: st.DrawFn) -> list[SpeechRegion]:
    gaps = draw(st.lists(st.floats(0.0, 5.0), min_size=1, max_size=40))
    lengths = draw(st.lists(st.floats(0.05, 20.0), min_size=len(gaps), max_size=len(gaps)))
    regions, cursor = [], 0.0
    for gap, length in zip(gaps, lengths, strict=True):
        regions.append(SpeechRegion(cursor + gap, cursor + gap + length))
        cursor += gap + length
    return regions


@given(region_lists(), st.floats(1.0, 60.0))
def test_chunks_keep_every_region_in_order_and_stay_within_the_span(
    regions: list[SpeechRegion], chunk_seconds: float
) -> None:
    chunks = chunk_regions(regions, chunk_seconds)
    assert [r for chunk in chunks for r in chunk] == regions
    for chunk in chunks:
        assert chunk, "no empty chunk"
        assert len(chunk) == 1 or chunk[-1].end - chunk[0].start <= chunk_seconds
    for before, after in itertools.pairwise(chunks):
        # A chunk ends only where adding the next region would overflow it.
        assert after[0].end - before[0].start > chunk_seconds


def test_a_non_positive_chunk_length_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_seconds"):
        chunk_regions([SpeechRegion(0.0, 1.0)], 0.0)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    return make_sample_video(tmp_path_factory.mktemp("media") / "talk.mp4")


def _dub(
    sample: SampleVideo, run_dir: Path, calls: Path, kill_at_call: int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(WORKER),
            str(sample.path),
            str(run_dir),
            str(calls),
            str(CHUNK_SECONDS),
            str(kill_at_call),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_a_dub_killed_during_transcription_resumes_at_the_last_finished_chunk(
    tmp_path: Path, sample: SampleVideo
) -> None:
    clean_calls = tmp_path / "clean-calls.txt"
    clean = _dub(sample, tmp_path / "clean", clean_calls, kill_at_call=0)
    assert clean.returncode == 0, clean.stderr
    chunks = len(clean_calls.read_text().splitlines())
    assert chunks >= 3, "the sample must span several chunks for this test to mean anything"

    calls = tmp_path / "calls.txt"
    killed = _dub(sample, tmp_path / "run", calls, kill_at_call=3)
    assert killed.returncode == -signal.SIGKILL
    assert len(calls.read_text().splitlines()) == 3  # two chunks finished, killed as the third began

    calls.write_text("")
    resumed = _dub(sample, tmp_path / "run", calls, kill_at_call=0)
    assert resumed.returncode == 0, resumed.stderr
    assert len(calls.read_text().splitlines()) == chunks - 2  # the two finished chunks were not redone
    assert json.loads(resumed.stdout) == json.loads(clean.stdout)


def _line(start: float, end: float, text: str, words: int = 0) -> TranscriptSegment:
    return TranscriptSegment(
        id=f"s{start:g}",
        start=start,
        end=end,
        text=text,
        words=tuple(Word(start=start, end=end, text=f"w{i}") for i in range(words)),
    )


def test_a_sentence_written_for_two_neighbouring_regions_becomes_one_line() -> None:
    lines = [
        _line(0.0, 2.0, "An earlier line of the talk."),
        _line(66.7, 67.5, "The young doctor finds the red wall.", words=3),
        _line(67.5, 69.5, "the young doctor finds the red wall", words=7),
        _line(70.9, 74.2, "The morning train finds the cold lake."),
    ]
    merged = merge_repeated_lines(lines)
    assert [(s.start, s.end) for s in merged] == [(0.0, 2.0), (66.7, 69.5), (70.9, 74.2)]
    assert merged[1].id == "s66.7"
    assert merged[1].text == "the young doctor finds the red wall"  # the longer piece's text and words
    assert len(merged[1].words) == 7


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (_line(0.0, 1.0, "Yes, yes."), _line(1.2, 2.0, "Yes, yes.")),  # too short to be a repetition
        (_line(0.0, 1.0, "We will see it again."), _line(2.5, 4.0, "We will see it again.")),  # too far apart
        (_line(0.0, 1.0, "We will see it again."), _line(1.2, 2.0, "We will see it later.")),  # not the same
    ],
)
def test_lines_that_are_not_a_repetition_stay_apart(
    first: TranscriptSegment, second: TranscriptSegment
) -> None:
    assert merge_repeated_lines([first, second]) == [first, second]


def test_speakers_keep_their_labels_across_chunk_boundaries(tmp_path: Path, sample: SampleVideo) -> None:
    """Two voices alternating line by line, transcribed in 6 s chunks: each voice keeps one label."""
    CountingTranscriber.calls_file = tmp_path / "calls.txt"
    CountingTranscriber.kill_at_call = 0
    registry = Registry()
    registry.register("transcriber", "counting", CountingTranscriber)
    config = PipelineConfig(
        vad="energy",
        diarizer="resemblyzer",
        transcriber="counting",
        translator="shout",
        synthesizer="sine-voice",
        transcribe_chunk_seconds=CHUNK_SECONDS,
    )
    with build_pipeline(config, registry=registry) as pipeline:
        result = pipeline.run(sample.path, to="es", source_language="en", run_dir=tmp_path / "run")
    assert len(CountingTranscriber.calls_file.read_text().splitlines()) >= 3  # several chunks
    labels: dict[str, set[str]] = {}
    for seg in result.project.segments:
        middle = (seg.start + seg.end) / 2
        line = next(line for line in sample.lines if line.start - 0.3 <= middle <= line.end + 0.3)
        labels.setdefault(line.voice, set()).add(seg.speaker)
    assert len(labels) == 2
    assert all(len(speakers) == 1 for speakers in labels.values()), labels
    assert len(set.union(*labels.values())) == 2  # and the two voices are told apart
