"""The voices a job's synthesizer offers, including the default ``auto`` synthesizer."""

from __future__ import annotations

import pytest

from dubkit.backends.registry import Registry
from dubkit.backends.synthesizer_choice import choose_synthesizer
from dubkit.pipeline.build import PipelineConfig
from dubkit.server.voice_catalog import VoiceCatalog


@pytest.mark.parametrize("language", ["es", "ca"])
def test_auto_lists_the_voices_of_the_synthesizer_it_picks_for_the_language(language: str) -> None:
    registry = Registry()
    catalog = VoiceCatalog(PipelineConfig(), registry)
    voices = catalog.voices_now({}, language)
    assert voices, "the default synthesizer must offer voices to pick from"
    picked = choose_synthesizer(registry, language)  # kokoro speaks Spanish, espeak-ng Catalan
    assert picked == ("kokoro" if language == "es" else "espeak-ng")
    expected = registry.create("synthesizer", picked).voices(language)  # type: ignore[attr-defined]
    assert [v.id for v in voices] == [v.id for v in expected]


def test_a_named_synthesizer_lists_its_own_voices() -> None:
    catalog = VoiceCatalog(PipelineConfig(), Registry())
    voices = catalog.voices_now({"synthesizer": "espeak-ng"}, "es")
    assert voices and all(v.id.startswith("es") for v in voices)
