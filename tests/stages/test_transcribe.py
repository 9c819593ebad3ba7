"""The transcribe stage: per-chunk checkpoints that survive SIGKILL, repeated lines, labels across chunks."""

from __future__ import annotations

from pathlib import Path

import pytest

from dubkit import build_pipeline
from dubkit.models import TranscriptSegment, Word
from dubkit.stages.transcribe import merge_repeated_lines
from dubkit.testing import SampleVideo

from .chunk_runs import kill_and_resume
from .chunk_worker import Calls, counting_config

CHUNK_SECONDS = 6.0


def test_a_dub_killed_during_transcription_resumes_at_the_last_finished_chunk(
    tmp_path: Path, sample: SampleVideo
) -> None:
    kill_and_resume("transcribe", sample, tmp_path, CHUNK_SECONDS)


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
    Calls.stage, Calls.file = "transcribe", tmp_path / "calls.txt"
    config, registry = counting_config("transcribe", CHUNK_SECONDS)
    with build_pipeline(config.model_copy(update={"diarizer": "resemblyzer"}), registry=registry) as pipeline:
        result = pipeline.run(sample.path, to="es", source_language="en", run_dir=tmp_path / "run")
    assert len(Calls.file.read_text().splitlines()) >= 3  # several chunks
    labels: dict[str, set[str]] = {}
    for seg in result.project.segments:
        middle = (seg.start + seg.end) / 2
        line = next(line for line in sample.lines if line.start - 0.3 <= middle <= line.end + 0.3)
        labels.setdefault(line.voice, set()).add(seg.speaker)
    assert len(labels) == 2
    assert all(len(speakers) == 1 for speakers in labels.values()), labels
    assert len(set.union(*labels.values())) == 2  # and the two voices are told apart
