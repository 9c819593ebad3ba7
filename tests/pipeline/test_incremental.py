"""The real 11-stage pipeline on real media, with fast stand-in speech backends.

The thing under test is the pipeline (caching, edits, plugins), so the speech backends are small:
the energy VAD and single-speaker diarizer that ship with dubkit, the sample plugin's synthesizer and
translator (installed as a real third-party distribution), and a transcriber registered in code.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pysubs2
import pytest

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import BaseTranscriber, NoOptions, Registry
from dubkit.models import AudioFile, DubProject, SpeechRegion, Transcript, TranscriptSegment
from dubkit.pipeline.keys import SYNTHESIS
from dubkit.testing import SampleVideo, make_sample_video


class RegionTranscriber(BaseTranscriber[NoOptions]):
    """One segment per region, with the region's index as its text."""

    region_counts: list[int] = []  # noqa: RUF012  (the tests read how much each call transcribed)

    def transcribe(
        self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
    ) -> Transcript:
        type(self).region_counts.append(len(regions))
        return Transcript(
            language=language or "en",
            segments=tuple(
                TranscriptSegment(id=f"r{i}", start=r.start, end=r.end, text=f"this is line number {i}")
                for i, r in enumerate(regions)
            ),
        )


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    return make_sample_video(tmp_path_factory.mktemp("media") / "talk.mp4")


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.register("transcriber", "regions", RegionTranscriber)
    return registry


CONFIG = PipelineConfig(
    vad="energy", diarizer="single", transcriber="regions", translator="shout", synthesizer="sine-voice"
)


def test_plugin_backends_run_in_a_real_dub(tmp_path: Path, sample: SampleVideo, registry: Registry) -> None:
    from dubkit_sample_plugin.voice import SineVoice

    before = SineVoice.calls
    with build_pipeline(CONFIG, registry=registry) as pipeline:
        result = pipeline.run(sample.path, to="es", source_language="en", run_dir=tmp_path / "run")
    segments = result.project.segments
    assert result.transcript is not None
    assert len(segments) == len(result.transcript.segments) >= len(sample.lines)
    sentences = result.project.sentences  # lines with no sentence end between them go together
    assert sentences and all(s.translation == s.source_text.upper() for s in sentences)
    pieces = {s.id: s.translation for s in segments}
    assert all(" ".join(pieces[i] for i in s.segments) == s.translation for s in sentences)
    assert sorted(i for s in sentences for i in s.segments) == sorted(pieces)
    synthesis = result.artifacts[SYNTHESIS]
    assert len(synthesis.clips) == len(segments)
    # Each line, each sentence of several lines whole, and each of the sample voice's two voices says the
    # counting phrase once, to have its pitch measured.
    calibrations = 2
    voiced = len(synthesis.clips) + len(synthesis.joined) + len(synthesis.alternatives)
    assert SineVoice.calls - before == voiced + calibrations
    assert result.project.backends["synthesizer"].name == "sine-voice"
    assert result.output is not None and result.output.media.suffix == ".mp4"
    exported = result.export(tmp_path / "out")
    assert exported.media.name == "talk.es.mp4"
    assert json.loads(exported.project.read_text())["target_language"] == "es"


def test_editing_one_line_resynthesises_one_clip_and_remixes(
    tmp_path: Path, sample: SampleVideo, registry: Registry
) -> None:
    from dubkit_sample_plugin.voice import SineVoice

    with build_pipeline(CONFIG, registry=registry) as pipeline:
        first = pipeline.run(sample.path, to="es", run_dir=tmp_path / "run")  # source language detected
        exported = first.export(tmp_path / "out")

        project = DubProject.load(exported.project)
        project.segments[2].translation = "UNA LÍNEA EDITADA A MANO"
        project.save(exported.project)

        calls = SineVoice.calls
        second = pipeline.redub(DubProject.load(exported.project))
    assert SineVoice.calls - calls == 1
    redone = {r.name for r in second.reports if not r.cached}
    assert redone == {"translate", "synthesize", "fit", "mix", "mux"}
    seg = second.project.segments[2]
    assert seg.translation == "UNA LÍNEA EDITADA A MANO"
    assert seg.machine_translation == first.project.segments[2].translation
    assert second.project.segments[3].translation == first.project.segments[3].translation


def test_a_rerun_redoes_nothing(tmp_path: Path, sample: SampleVideo, registry: Registry) -> None:
    with build_pipeline(CONFIG, registry=registry) as pipeline:
        pipeline.run(sample.path, to="es", source_language="en", run_dir=tmp_path / "run")
        again = pipeline.run(sample.path, to="es", source_language="en", run_dir=tmp_path / "run")
    assert all(r.cached for r in again.reports)


def test_a_second_language_reuses_the_shared_stages(
    tmp_path: Path, sample: SampleVideo, registry: Registry
) -> None:
    with build_pipeline(CONFIG, registry=registry) as pipeline:
        pipeline.run(sample.path, to="es", source_language="en", run_dir=tmp_path / "run")
        french = pipeline.run(sample.path, to="fr", source_language="en", run_dir=tmp_path / "run")
    cached = {r.name for r in french.reports if r.cached}
    assert {"probe", "extract", "separate", "vad", "diarize", "transcribe"} <= cached
    assert french.project.target_language == "fr"


def test_a_segment_that_keeps_failing_is_marked_and_the_dub_completes(
    tmp_path: Path, sample: SampleVideo, registry: Registry
) -> None:
    from dubkit_sample_plugin.voice import SineVoice

    class Flaky(SineVoice):
        def synthesize(self, text, voice, out_path):  # type: ignore[no-untyped-def]
            if "NUMBER 2" in text:
                raise RuntimeError("voice model crashed")
            return super().synthesize(text, voice, out_path)

    registry.register("synthesizer", "flaky", Flaky)
    config = CONFIG.model_copy(update={"synthesizer": "flaky"})
    with build_pipeline(config, registry=registry) as pipeline:
        result = pipeline.run(sample.path, to="es", run_dir=tmp_path / "run")
    failed = [s for s in result.project.segments if s.status == "failed"]
    assert [s.id for s in failed] == ["seg-0003"]
    assert failed[0].error is not None
    assert "voice model crashed" in failed[0].error
    assert result.project.quality.failed_segments == ["seg-0003"]
    assert not result.complete
    assert result.output is not None
    assert result.output.media.is_file()
    assert failed[0].timing is None


def test_strict_mode_stops_on_the_failing_segment(
    tmp_path: Path, sample: SampleVideo, registry: Registry
) -> None:
    from dubkit_sample_plugin.voice import SineVoice

    from dubkit.errors import StageError

    class Broken(SineVoice):
        def synthesize(self, text, voice, out_path):  # type: ignore[no-untyped-def]
            raise RuntimeError("always broken")

    registry.register("synthesizer", "broken", Broken)
    with (
        build_pipeline(CONFIG.model_copy(update={"synthesizer": "broken"}), registry=registry) as pipeline,
        pytest.raises(StageError, match="always broken"),
    ):
        pipeline.run(sample.path, to="es", run_dir=tmp_path / "run", strict=True)


def test_a_video_without_speech_keeps_its_audio_and_says_why(tmp_path: Path, registry: Registry) -> None:
    quiet = make_sample_video(tmp_path / "quiet.mp4", script=())
    with build_pipeline(CONFIG, registry=registry) as pipeline:
        result = pipeline.run(quiet.path, to="es", run_dir=tmp_path / "run")
    assert result.project.segments == []
    assert any("no speech" in note for note in result.project.quality.notes)
    assert result.output is not None
    assert result.output.media.is_file()


def test_a_line_too_long_for_its_slot_speaks_a_shorter_candidate(
    tmp_path: Path, sample: SampleVideo, registry: Registry
) -> None:
    from dubkit.backends import BaseTranslator

    class Wordy(BaseTranslator[NoOptions]):
        """The best candidate is four times too long; the second is the plain line."""

        def translate(self, texts: Sequence[str], source: str, target: str, n_best: int) -> list[list[str]]:
            return [[" ".join([t.upper()] * 4), t.upper()][: max(1, n_best)] for t in texts]

    registry.register("translator", "wordy", Wordy)
    config = CONFIG.model_copy(update={"translator": "wordy", "n_best": 2})
    with build_pipeline(config, registry=registry) as pipeline:
        result = pipeline.run(sample.path, to="es", run_dir=tmp_path / "run")
    synthesis = result.artifacts[SYNTHESIS]
    assert any(c.candidate == 1 for c in synthesis.alternatives)
    project = result.project
    placed = project.placed()
    joined = {s.id: s for s in project.sentences if s.layout == "joined"}
    covered = {
        i for line_id, *_ in placed for i in (joined[line_id].segments if line_id in joined else [line_id])
    }
    assert covered == {s.id for s in project.segments}  # every line plays, alone or in its sentence
    chosen = [(line_id, t) for line_id, _, _, t in placed if t.candidate == 1]
    assert chosen, "the solver prefers the shorter candidate over stretching past the cap"
    for line_id, t in chosen:
        lines = len(joined[line_id].segments) if line_id in joined else 1
        assert t.spoken == t.spoken.upper()
        assert t.spoken.count("THIS IS LINE") == lines
        assert t.stretch <= 1.2 + 1e-6
    for a, b in itertools.pairwise(t for *_, t in placed):
        assert a.end <= b.start + 1e-6  # never overlapping
    assert result.output is not None
    shown = " ".join(e.plaintext.replace("\n", " ") for e in pysubs2.load(str(result.output.srt)))
    assert chosen[0][1].spoken in shown  # the subtitles show what the dub says


def test_a_new_voice_for_one_speaker_revoices_only_that_speakers_lines(
    tmp_path: Path, sample: SampleVideo, registry: Registry
) -> None:
    from dubkit_sample_plugin.voice import SineVoice

    from dubkit.backends import BaseDiarizer
    from dubkit.models import ProjectVoice, SpeakerTurn

    class Alternating(BaseDiarizer[NoOptions]):
        def diarize(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> list[SpeakerTurn]:
            return [SpeakerTurn(r.start, r.end, f"SPEAKER_0{i % 2}") for i, r in enumerate(regions)]

    registry.register("diarizer", "alternating", Alternating)
    config = CONFIG.model_copy(update={"diarizer": "alternating"})
    with build_pipeline(config, registry=registry) as pipeline:
        first = pipeline.run(sample.path, to="es", run_dir=tmp_path / "run")
        exported = first.export(tmp_path / "out")
        project = DubProject.load(exported.project)
        assert [s.id for s in project.speakers] == ["SPEAKER_00", "SPEAKER_01"]
        project.speakers[1].voice = ProjectVoice(id="es-other", language="es")
        calls = SineVoice.calls
        second = pipeline.redub(project)
    revoiced = [s for s in second.project.segments if s.speaker == "SPEAKER_01"]
    kept = [s for s in second.project.segments if s.speaker == "SPEAKER_00"]
    synthesis = second.artifacts[SYNTHESIS]
    extra = [c for c in synthesis.alternatives if c.voice.id == "es-other"]
    assert SineVoice.calls - calls == len(revoiced) + len(extra)
    assert {s.voice for s in revoiced} == {"es-other"}
    assert {s.voice for s in kept} == {"es-low"}
    assert {r.name for r in second.reports if not r.cached} == {"synthesize", "fit", "mix", "mux"}


def test_review_after_an_edit_hears_only_the_edited_line_again(
    tmp_path: Path, sample: SampleVideo, registry: Registry
) -> None:
    config = CONFIG.model_copy(update={"review": True})
    with build_pipeline(config, registry=registry) as pipeline:
        first = pipeline.run(sample.path, to="es", run_dir=tmp_path / "run")
        assert all(s.quality.back_wer is not None for s in first.project.segments)
        exported = first.export(tmp_path / "out")
        project = DubProject.load(exported.project)
        project.segments[1].translation = "THIS IS AN EDITED LINE"
        RegionTranscriber.region_counts.clear()
        second = pipeline.redub(project)
    assert RegionTranscriber.region_counts == [1]  # the review stage transcribed one clip back
    assert "review" in {r.name for r in second.reports if not r.cached}
    assert second.project.segments[1].quality.back_wer is not None


def test_a_line_kept_in_its_original_speech_plays_the_original_there(
    tmp_path: Path, sample: SampleVideo, registry: Registry
) -> None:
    from dubkit_sample_plugin.voice import SineVoice

    from dubkit.media.pcm import open_pcm
    from dubkit.pipeline.keys import AUDIO, DUBBED, TIMING

    with build_pipeline(CONFIG, registry=registry) as pipeline:
        first = pipeline.run(sample.path, to="es", source_language="en", run_dir=tmp_path / "run")
        project = first.project.model_copy(deep=True)
        kept = project.segments[1]
        kept.keep_original = True
        calls = SineVoice.calls
        second = pipeline.redub(project)
    assert SineVoice.calls == calls  # nothing voiced again
    assert (
        second.project.segments[1].keep_original
        and second.project.quality.notes == first.project.quality.notes
    )
    timing = second.artifacts[TIMING].by_id()[kept.id]
    assert timing.source_audio and (timing.start, timing.end, timing.stretch) == (kept.start, kept.end, 1.0)
    assert {r.name for r in second.reports if not r.cached} <= {"synthesize", "fit", "mix", "mux"}

    original = open_pcm(second.artifacts[AUDIO].full.path)
    rate = original.sample_rate
    # Inside the slot (away from the ducking's release after the line before), the dub is the original
    # at the mix's gain; with the dubbed line it was not.
    first_frame, count = round((kept.start + 0.5) * rate), round((kept.end - kept.start - 0.6) * rate)
    source = original.read(first_frame, count).ravel()

    def likeness(track: Path) -> float:
        dub = open_pcm(track).read(first_frame, count).ravel()
        return float(np.dot(source, dub) / (np.linalg.norm(source) * np.linalg.norm(dub)))

    assert likeness(second.artifacts[DUBBED].track.path) > 0.999
    assert likeness(first.artifacts[DUBBED].track.path) < 0.9
