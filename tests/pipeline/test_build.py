"""Building the standard pipeline from a config: everything resolved before any media is touched."""

from __future__ import annotations

import pytest

from dubkit import PipelineConfig, build_pipeline
from dubkit.backends import Registry
from dubkit.errors import BackendValidationError, ConfigError, UnknownBackendError


def test_the_standard_eleven_stages() -> None:
    pipeline = build_pipeline(PipelineConfig(vad="energy", diarizer="single"))
    assert pipeline.stage_names() == [
        "probe",
        "extract",
        "separate",
        "vad",
        "diarize",
        "transcribe",
        "translate",
        "synthesize",
        "fit",
        "mix",
        "mux",
    ]


def test_settings_from_untrusted_mappings_are_validated() -> None:
    assert PipelineConfig.from_mapping({"translator": "nllb", "n_best": 3}).n_best == 3
    with pytest.raises(ConfigError) as info:
        PipelineConfig.from_mapping({"n_best": 0})
    assert info.value.field == "n_best"
    with pytest.raises(ConfigError):
        PipelineConfig.from_mapping({"translatorr": "nllb"})


def test_a_broken_plugin_fails_when_the_pipeline_is_built() -> None:
    with pytest.raises(BackendValidationError):
        build_pipeline(PipelineConfig(synthesizer="broken-voice", vad="energy", diarizer="single"))


def test_unknown_backend_fails_when_the_pipeline_is_built() -> None:
    with pytest.raises(UnknownBackendError):
        build_pipeline(PipelineConfig(translator="babelfish"), registry=Registry(discover_plugins=False))


def test_backend_options_reach_the_backend() -> None:
    pipeline = build_pipeline(
        PipelineConfig.from_mapping(
            {"vad": "energy", "diarizer": "single", "backend_options": {"vad": {"margin_db": 7.5}}}
        )
    )
    vad = pipeline.stage("vad")
    assert vad.fingerprint(None)["backend"]["options"]["margin_db"] == 7.5  # type: ignore[arg-type, attr-defined]


def _synthesizers(config: PipelineConfig) -> dict[str, dict[str, object]]:
    stage = build_pipeline(config).stage("synthesize")
    return {b.name: b.options for b in stage.synthesizers}  # type: ignore[attr-defined]


def test_the_default_synthesizer_is_auto_and_binds_every_natural_voice() -> None:
    assert PipelineConfig().synthesizer == "auto"
    assert list(_synthesizers(PipelineConfig(vad="energy", diarizer="single"))) == [
        "kokoro",
        "piper",
        "espeak-ng",
    ]
    named = PipelineConfig(vad="energy", diarizer="single", synthesizer="espeak-ng")
    assert list(_synthesizers(named)) == ["espeak-ng"]  # the fast profile: espeak-ng alone


def test_synthesizer_options_reach_the_synthesizers_that_have_them() -> None:
    base = {"vad": "energy", "diarizer": "single"}
    device = _synthesizers(
        PipelineConfig.from_mapping({**base, "backend_options": {"synthesizer": {"device": "cpu"}}})
    )
    assert device["kokoro"]["device"] == device["piper"]["device"] == "cpu"
    wpm = _synthesizers(
        PipelineConfig.from_mapping({**base, "backend_options": {"synthesizer": {"wpm": 200}}})
    )
    assert wpm["espeak-ng"]["wpm"] == 200 and wpm["kokoro"]["device"] == "auto"
    with pytest.raises(ConfigError, match="name the synthesizer"):
        build_pipeline(
            PipelineConfig.from_mapping({**base, "backend_options": {"synthesizer": {"bogus": 1}}})
        )
    named = PipelineConfig.from_mapping(
        {**base, "synthesizer": "kokoro", "backend_options": {"synthesizer": {"threads": 2}}}
    )
    assert _synthesizers(named)["kokoro"]["threads"] == 2 and "wpm" in _synthesizers(named)["espeak-ng"]
