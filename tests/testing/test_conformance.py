"""The plugin authors' conformance suite, run on real backends: it passes good ones and catches bad ones."""

from __future__ import annotations

from collections.abc import Sequence
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
