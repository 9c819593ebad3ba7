"""Voices in a real dub: cast per speaker from their pitch, edits honoured on a re-dub, lines a voice cannot
say voiced by the next synthesizer and flagged, and natural voices chosen per target language."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from dubkit import DubProject, PipelineConfig, build_pipeline
from dubkit.backends import BaseDiarizer, BaseTranscriber, NoOptions, Registry
from dubkit.backends.binding import BackendBinding
from dubkit.backends.wav import read_wav_mono
from dubkit.errors import UnknownLanguageError, UnspeakableTextError
from dubkit.media.pitch import median_pitch
from dubkit.models import AudioFile, SpeakerTurn, SpeechRegion, Transcript, TranscriptSegment
from dubkit.models.speech import FEMALE_PITCH_HZ, Synthesis, Voice
from dubkit.pipeline.keys import SYNTHESIS
from dubkit.stages.synthesize import SynthesizeStage
from dubkit.testing import SampleVideo, make_sample_video

dubkit_sample_plugin = pytest.importorskip("dubkit_sample_plugin")
from dubkit_sample_plugin.voice import SineVoice

SCRIPT = (
    ("en+m3", "The river is cold today."),
    ("en+f4", "The garden is green and quiet."),
    ("en+m3", "We walk to the old bridge."),
    ("en+f4", "The birds sing in the morning."),
)


def _script_transcriber(
    sample: SampleVideo, texts: Sequence[str] | None = None
) -> type[BaseTranscriber[NoOptions]]:
    """A transcriber that 'hears' the sample's script: its lines, with MAN and WOMAN as speakers."""

    class Script(BaseTranscriber[NoOptions]):
        def transcribe(
            self, audio: AudioFile, regions: Sequence[SpeechRegion], language: str | None
        ) -> Transcript:
            return Transcript(
                language="en",
                segments=tuple(
                    TranscriptSegment(
                        id=f"line-{i}",
                        start=line.start,
                        end=line.end,
                        text=texts[i] if texts else line.text,
                        speaker=_speaker(line.voice),
                    )
                    for i, line in enumerate(sample.lines)
                ),
            )

    return Script


def _speaker(voice: str) -> str:
    return "MAN" if voice.endswith("m3") else "WOMAN"


def _script_diarizer(sample: SampleVideo) -> type[BaseDiarizer[NoOptions]]:
    """A diarizer that knows who says each line of the sample."""

    class Script(BaseDiarizer[NoOptions]):
        def diarize(self, audio: AudioFile, regions: Sequence[SpeechRegion]) -> Sequence[SpeakerTurn]:
            return [SpeakerTurn(line.start, line.end, _speaker(line.voice)) for line in sample.lines]

    return Script


class PickyVoice(SineVoice):
    """The sample voice, refusing lines that mention a bridge (as a voice refuses a word it cannot say)."""

    def synthesize(self, text: str, voice: Voice, out_path: Path) -> AudioFile:
        if "BRIDGE" in text.upper() or "PUENTE" in text.upper():
            raise UnspeakableTextError(text, voice.language, "no_phonemes", kind="synthesizer", name="picky")
        return super().synthesize(text, voice, out_path)


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    return make_sample_video(tmp_path_factory.mktemp("voices") / "talk.mp4", script=SCRIPT)


def _registry(sample: SampleVideo, texts: Sequence[str] | None = None) -> Registry:
    registry = Registry()
    registry.register("transcriber", "script", _script_transcriber(sample, texts))
    registry.register("diarizer", "script", _script_diarizer(sample))
    registry.register("synthesizer", "picky", PickyVoice)
    return registry


def _config(synthesizer: str) -> PipelineConfig:
    return PipelineConfig(vad="energy", diarizer="script", transcriber="script", synthesizer=synthesizer)


def test_each_speaker_gets_a_voice_of_their_register_and_an_edit_revoices_only_their_lines(
    tmp_path: Path, talk: SampleVideo
) -> None:
    registry = _registry(talk)
    with build_pipeline(_config("espeak-ng"), registry=registry) as pipeline:
        first = pipeline.run(talk.path, to="es", source_language="en", run_dir=tmp_path / "run")
        speakers = {s.id: s for s in first.project.speakers}
        assert speakers["MAN"].pitch is not None and speakers["MAN"].pitch < FEMALE_PITCH_HZ
        assert speakers["WOMAN"].pitch is not None and speakers["WOMAN"].pitch > FEMALE_PITCH_HZ
        man, woman = speakers["MAN"].voice, speakers["WOMAN"].voice
        assert man is not None and woman is not None
        assert (man.gender, woman.gender) == ("male", "female") and man.id != woman.id
        for seg in first.project.segments:  # one voice per speaker, whatever the line
            assert seg.voice == speakers[seg.speaker].voice.id  # type: ignore[union-attr]
        synthesis = first.project.quality.synthesis
        assert synthesis is not None and synthesis.synthesizer == "espeak-ng"
        assert synthesis.speech_seconds > 3 and synthesis.cpu_per_speech_second is not None

        exported = first.export(tmp_path / "out")
        project = DubProject.load(exported.project)
        edited = "es+m1" if man.id != "es+m1" else "es+m2"
        project.speakers[[s.id for s in project.speakers].index("MAN")].voice.id = edited  # type: ignore[union-attr]
        project.save(exported.project)
        second = pipeline.redub(DubProject.load(exported.project))
    after = {s.id: s.voice for s in second.project.speakers}
    assert after["MAN"] is not None and after["MAN"].id == edited
    assert after["WOMAN"] == woman
    redone: Synthesis = second.artifacts[SYNTHESIS]
    before = {c.segment_id: c for c in first.artifacts[SYNTHESIS].clips}
    speaker_of = {s.id: s.speaker for s in second.project.segments}
    for clip in redone.clips:
        if speaker_of[clip.segment_id] == "MAN":
            assert clip.voice.id == edited and clip.path != before[clip.segment_id].path
        else:
            assert clip == before[clip.segment_id]  # the woman's lines come from the cache
    revoiced = [c for c in (*redone.clips, *redone.alternatives) if speaker_of[c.segment_id] == "MAN"]
    synthesized = second.project.quality.synthesis  # what this re-dub voiced: only the man's lines
    assert synthesized is not None
    assert synthesized.speech_seconds == pytest.approx(sum(c.duration for c in revoiced), abs=0.01)


def test_a_line_the_voice_cannot_say_is_voiced_by_the_next_and_flagged(
    tmp_path: Path, talk: SampleVideo
) -> None:
    registry = _registry(talk)
    with build_pipeline(_config("picky"), registry=registry) as pipeline:
        result = pipeline.run(talk.path, to="es", source_language="en", run_dir=tmp_path / "run")
    synthesis: Synthesis = result.artifacts[SYNTHESIS]
    by_line = {c.segment_id: c for c in synthesis.clips}
    (bridge,) = [s.id for s in result.project.segments if "bridge" in s.source_text]
    assert by_line[bridge].synthesizer == "espeak-ng"
    assert by_line[bridge].voice.gender == "male"  # the man's line, in a male espeak-ng voice
    assert {c.synthesizer for k, c in by_line.items() if k != bridge} == {"picky"}
    flagged = {s.id: s for s in result.project.segments if "voice_fallback" in s.quality.flags}
    assert list(flagged) == [bridge] and flagged[bridge].status == "ok"
    assert result.project.quality.synthesis.fallback_segments == [bridge]  # type: ignore[union-attr]
    assert result.project.quality.failed_segments == []
    assert any("voiced by espeak-ng" in note for note in result.project.quality.notes)
    assert result.complete


def test_a_line_no_voice_can_say_fails_alone(tmp_path: Path, talk: SampleVideo) -> None:
    texts = [line.text for line in talk.lines]
    texts[1] = "?! ... --"
    with build_pipeline(_config("espeak-ng"), registry=_registry(talk, texts)) as pipeline:
        result = pipeline.run(talk.path, to="es", source_language="en", run_dir=tmp_path / "run")
    failed = [s for s in result.project.segments if s.status == "failed"]
    assert [s.source_text for s in failed] == ["?! ... --"]
    assert "cannot say" in (failed[0].error or "")
    assert result.output is not None  # the dub completes


def test_auto_picks_the_natural_voice_per_language_and_espeak_follows_it() -> None:
    with build_pipeline(PipelineConfig(vad="energy", diarizer="single")) as pipeline:
        stage = pipeline.stage("synthesize")
        assert isinstance(stage, SynthesizeStage)
        assert [b.name for b in stage.chain("es")] == ["kokoro", "espeak-ng"]
        assert [b.name for b in stage.chain("en")] == ["kokoro", "piper", "espeak-ng"]
        assert [b.name for b in stage.chain("de")] == ["espeak-ng"]
    with build_pipeline(PipelineConfig(vad="energy", diarizer="single", synthesizer="piper")) as pipeline:
        stage = pipeline.stage("synthesize")
        assert isinstance(stage, SynthesizeStage)
        assert [b.name for b in stage.chain("en")] == ["piper", "espeak-ng"]
        with pytest.raises(UnknownLanguageError):
            stage.chain("es")  # named, so it must speak the target language


@pytest.mark.models
def test_kokoro_dubs_each_speaker_in_a_voice_of_their_register(
    tmp_path: Path, talk: SampleVideo, kokoro_voice: object
) -> None:
    registry = _registry(talk)
    pipeline = build_pipeline(
        PipelineConfig(vad="energy", diarizer="script", transcriber="script"), registry=registry
    )
    espeak = pipeline.stage("synthesize").synthesizers[-1]  # type: ignore[attr-defined]
    shared = BackendBinding("synthesizer", "kokoro", kokoro_voice)  # the session's loaded model
    pipeline = pipeline.replace("synthesize", SynthesizeStage([shared, espeak], choose=True))
    result = pipeline.run(talk.path, to="es", source_language="en", run_dir=tmp_path / "run")
    assert result.project.backends["synthesizer"].name == "kokoro"
    synthesis: Synthesis = result.artifacts[SYNTHESIS]
    speaker_of = {s.id: s.speaker for s in result.project.segments}
    pitches: dict[str, list[float]] = {"MAN": [], "WOMAN": []}
    for clip in synthesis.clips:
        assert clip.synthesizer == "kokoro"
        rate, samples = read_wav_mono(clip.path)
        pitch = median_pitch(samples, rate)
        assert pitch is not None
        pitches[speaker_of[clip.segment_id]].append(pitch)
    assert max(pitches["MAN"]) < FEMALE_PITCH_HZ < min(pitches["WOMAN"])
    voices = dict(synthesis.voices)
    assert voices["MAN"].id != voices["WOMAN"].id
    quality = result.project.quality.synthesis
    assert quality is not None and quality.cpu_per_speech_second is not None and quality.speech_seconds > 3
