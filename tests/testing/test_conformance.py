"""The plugin authors' conformance suite, run on real backends: it passes good ones and catches bad ones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from dubkit.backends import BaseTranslator, BaseVAD, NoOptions
from dubkit.backends.passthrough import NoSeparator
from dubkit.backends.single_speaker import SingleSpeakerDiarizer
from dubkit.models import AudioFile, SpeechRegion
from dubkit.testing import ConformanceError, check_backend


def test_sample_plugin_backends_conform(tmp_path: Path) -> None:
    from dubkit_sample_plugin.shout import ShoutTranslator
    from dubkit_sample_plugin.voice import SineVoice

    check_backend("synthesizer", SineVoice, workdir=tmp_path)
    check_backend("translator", ShoutTranslator, workdir=tmp_path)


def test_builtin_light_backends_conform(tmp_path: Path) -> None:
    check_backend("separator", NoSeparator, workdir=tmp_path)
    check_backend("diarizer", SingleSpeakerDiarizer, workdir=tmp_path)


def test_a_broken_plugin_fails_the_suite() -> None:
    from dubkit_sample_plugin.broken import BrokenVoice

    with pytest.raises(ConformanceError, match="synthesize"):
        check_backend("synthesizer", BrokenVoice)


def test_wrong_result_counts_and_regions_outside_the_audio_are_caught(tmp_path: Path) -> None:
    class DropsLines(BaseTranslator[NoOptions]):
        def translate(self, texts: Sequence[str], source: str, target: str, n_best: int) -> list[list[str]]:
            return [[t] for t in texts[:-1]]

    class Hallucinates(BaseVAD[NoOptions]):
        def detect(self, audio: AudioFile) -> Sequence[SpeechRegion]:
            return [SpeechRegion(0.0, audio.duration + 30.0)]

    with pytest.raises(ConformanceError, match="3 texts"):
        check_backend("translator", DropsLines, workdir=tmp_path)
    with pytest.raises(ConformanceError, match="outside the audio"):
        check_backend("vad", Hallucinates, workdir=tmp_path)


def test_a_backend_that_loads_in_its_constructor_is_caught() -> None:
    class Eager(SingleSpeakerDiarizer):
        def __init__(self, options: SingleSpeakerDiarizer.Options | None = None) -> None:
            super().__init__(options)
            self.load()

    with pytest.raises(ConformanceError, match="constructor"):
        check_backend("diarizer", Eager)


class _Streams(BaseVAD[NoOptions]):
    """A streaming detector: speech in the first half, progress in quarters (overridden below)."""

    def detect(self, audio: AudioFile) -> Sequence[SpeechRegion]:
        return self.detect_streaming(audio, lambda fraction: None)

    def detect_streaming(self, audio: AudioFile, progress: Callable[[float], None]) -> Sequence[SpeechRegion]:
        for fraction in self.fractions():
            progress(fraction)
        return [SpeechRegion(0.0, audio.duration / 2)]

    def fractions(self) -> list[float]:
        return [0.25, 0.5, 0.75, 1.0]


def test_a_streaming_vad_is_checked_for_its_progress(tmp_path: Path) -> None:
    class StopsShort(_Streams):
        def fractions(self) -> list[float]:
            return [0.25, 0.5]

    class GoesBack(_Streams):
        def fractions(self) -> list[float]:
            return [0.5, 0.25, 1.0]

    class Silent(_Streams):
        def fractions(self) -> list[float]:
            return []

    class DisagreesWithDetect(_Streams):
        def detect(self, audio: AudioFile) -> Sequence[SpeechRegion]:
            return []

    check_backend("vad", _Streams, workdir=tmp_path)
    with pytest.raises(ConformanceError, match=r"end at 1\.0"):
        check_backend("vad", StopsShort, workdir=tmp_path)
    with pytest.raises(ConformanceError, match="rise"):
        check_backend("vad", GoesBack, workdir=tmp_path)
    with pytest.raises(ConformanceError, match="never reported"):
        check_backend("vad", Silent, workdir=tmp_path)
    with pytest.raises(ConformanceError, match="what detect"):
        check_backend("vad", DisagreesWithDetect, workdir=tmp_path)


def test_a_translator_that_takes_context_is_checked_with_whole_sentences(tmp_path: Path) -> None:
    from dubkit.models.translation import TranslationUnit

    class WithContext(BaseTranslator[NoOptions]):
        def translate(self, texts: Sequence[str], source: str, target: str, n_best: int) -> list[list[str]]:
            return [[t.upper()] for t in texts]

        def translate_units(
            self, units: Sequence[TranslationUnit], source: str, target: str, n_best: int
        ) -> list[list[str]]:
            return [[u.text.upper()] for u in units]

    class ForgetsAUnit(WithContext):
        def translate_units(
            self, units: Sequence[TranslationUnit], source: str, target: str, n_best: int
        ) -> list[list[str]]:
            return [[u.text] for u in units[1:]]

    check_backend("translator", WithContext, workdir=tmp_path)
    with pytest.raises(ConformanceError, match="translate_units"):
        check_backend("translator", ForgetsAUnit, workdir=tmp_path)
