"""The diarize stage: chunks diarized apart and their speakers linked, each chunk a checkpoint."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import Registry
from dubkit.backends.single_speaker import SingleSpeakerDiarizer
from dubkit.models import AudioFile, SpeakerTurn, SpeechRegion
from dubkit.pipeline import Pipeline
from dubkit.pipeline.keys import SPEAKERS
from dubkit.testing import SampleVideo

from .chunk_runs import kill_and_resume
from .chunk_worker import Calls, counting_config

CHUNK_SECONDS = 10.0


def _labels_by_voice(sample: SampleVideo, turns: Sequence[SpeakerTurn]) -> dict[str, set[str]]:
    """The labels given to each voice of the sample (a turn belongs to the line it overlaps most)."""
    labels: dict[str, set[str]] = {}
    for turn in turns:
        line = max(sample.lines, key=lambda ln: min(ln.end, turn.end) - max(ln.start, turn.start))
        labels.setdefault(line.voice, set()).add(turn.speaker)
    return labels


def test_a_dub_killed_during_diarization_resumes_at_the_last_finished_chunk(
    tmp_path: Path, lecture: SampleVideo
) -> None:
    output = kill_and_resume("diarize", lecture, tmp_path, CHUNK_SECONDS)
    assert sorted(set(output["speakers"])) == ["SPEAKER_00", "SPEAKER_01"]


def test_two_alternating_voices_keep_one_label_each_across_diarization_chunks(
    tmp_path: Path, lecture: SampleVideo
) -> None:
    """Short lines alternate between two voices, diarized 10 s of timeline at a time, so the voices
    alternate across every chunk boundary."""
    Calls.stage, Calls.file = "diarize", tmp_path / "calls.txt"
    config, registry = counting_config("diarize", CHUNK_SECONDS)
    with build_pipeline(config, registry=registry) as full, Pipeline(full.stages[:5]) as pipeline:
        result = pipeline.run(lecture.path, to="es", source_language="en", run_dir=tmp_path / "run")
    assert len(Calls.file.read_text().splitlines()) >= 4  # several chunks, each diarized alone
    labels = _labels_by_voice(lecture, result.artifacts[SPEAKERS].turns)
    assert len(labels) == 2
    assert all(len(speakers) == 1 for speakers in labels.values()), labels
    assert len(set.union(*labels.values())) == 2  # and the two voices are told apart


class WholeInputDiarizer(SingleSpeakerDiarizer):
    """A diarizer without voice profiles (like most plugins): it records the regions of each call."""

    calls: ClassVar[list[int]] = []

    def diarize(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> Sequence[SpeakerTurn]:
        type(self).calls.append(len(regions))
        return super().diarize(audio, regions)


def test_a_diarizer_without_voice_profiles_hears_the_whole_input_at_once(
    tmp_path: Path, sample: SampleVideo
) -> None:
    registry = Registry()
    registry.register("diarizer", "whole", WholeInputDiarizer)
    config = PipelineConfig(vad="energy", diarizer="whole", diarize_chunk_seconds=CHUNK_SECONDS)
    with build_pipeline(config, registry=registry) as full, Pipeline(full.stages[:5]) as pipeline:
        result = pipeline.run(sample.path, to="es", source_language="en", run_dir=tmp_path / "run")
    regions = len(result.artifacts[SPEAKERS].turns)
    assert regions >= 3
    assert WholeInputDiarizer.calls == [regions]
