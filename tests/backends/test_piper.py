"""The piper synthesizer on the real en_US-joe-medium voice that ships in a package (no stand-in)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.backends.spoken import check_spoken

from dubkit.backends.piper import PiperSynthesizer, _packaged_model
from dubkit.errors import BackendUnavailableError, ConfigError, UnspeakableTextError
from dubkit.models.speech import Voice
from dubkit.testing.conformance import check_backend

pytest.importorskip("piper")
pytestmark = pytest.mark.models

JOE = Voice("en_US-joe-medium", "en")


def _voice_copy(folder: Path, name: str, **config: object) -> Path:
    """The packaged voice under another name (model linked, config copied with ``config`` merged in)."""
    model = _packaged_model()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.onnx").symlink_to(model)
    data = json.loads(model.with_name(model.name + ".json").read_text())
    (folder / f"{name}.onnx.json").write_text(json.dumps({**data, **config}))
    return folder / f"{name}.onnx"


def test_the_conformance_suite_passes() -> None:
    check_backend("synthesizer", PiperSynthesizer, target="en")


def test_speaks_english_and_only_english(piper_voice: PiperSynthesizer, tmp_path: Path) -> None:
    assert piper_voice.languages() == {"en"}
    assert piper_voice.voices("en") == (Voice("en_US-joe-medium", "en", label="Piper en_US-joe-medium"),)
    assert piper_voice.voices("es") == ()
    clip = piper_voice.synthesize("Hello there. How are you today?", JOE, tmp_path / "a.wav")
    assert (clip.sample_rate, clip.channels) == (22050, 1)
    longer = piper_voice.synthesize(
        "Hello there. How are you today? Hello there. How are you today?", JOE, tmp_path / "a2.wav"
    )
    assert 1.6 < check_spoken(longer) / check_spoken(clip) < 2.5  # it says the text, not a fixed sound
    with pytest.raises(UnspeakableTextError) as caught:
        piper_voice.synthesize("Hola.", Voice("en_US-joe-medium", "es"), tmp_path / "b.wav")
    assert caught.value.reason == "language"


def test_rate_sets_the_speed(piper_voice: PiperSynthesizer, tmp_path: Path) -> None:
    text = "One two three four five six seven eight nine ten."
    normal = piper_voice.synthesize(text, JOE, tmp_path / "a.wav")
    fast = piper_voice.synthesize(text, Voice(JOE.id, "en", rate=1.4), tmp_path / "b.wav")
    assert fast.duration < normal.duration * 0.85


@pytest.mark.parametrize("text", ["", "?!", "... --", "[[ ]]"])
def test_text_without_words_is_unspeakable(piper_voice: PiperSynthesizer, tmp_path: Path, text: str) -> None:
    with pytest.raises(UnspeakableTextError):
        piper_voice.synthesize(text, JOE, tmp_path / "x.wav")


def test_raw_phoneme_brackets_are_read_as_text(piper_voice: PiperSynthesizer, tmp_path: Path) -> None:
    clip = piper_voice.synthesize("Say [[hello]] now.", JOE, tmp_path / "x.wav")
    assert clip.duration > 0.5


def test_an_unknown_voice_is_a_config_error(piper_voice: PiperSynthesizer, tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        piper_voice.synthesize("Hello.", Voice("en_US-nobody", "en"), tmp_path / "x.wav")


def test_other_voices_come_from_a_folder_with_their_languages_and_speakers(tmp_path: Path) -> None:
    _voice_copy(tmp_path / "voices", "en_GB-copy-medium")
    _voice_copy(
        tmp_path / "voices",
        "es_ES-pair-medium",
        language={"family": "es"},
        num_speakers=2,
        speaker_id_map={"ana": 1, "luis": 0},
    )
    piper = PiperSynthesizer(PiperSynthesizer.Options(voices=(str(tmp_path / "voices"),)))
    assert piper.languages() == {"en", "es"}
    assert [v.id for v in piper.voices("es")] == ["es_ES-pair-medium#luis", "es_ES-pair-medium#ana"]
    assert [v.id for v in piper.voices("en")] == ["en_GB-copy-medium"]
    with piper:
        clip = piper.synthesize("Good morning.", Voice("en_GB-copy-medium", "en"), tmp_path / "a.wav")
        assert clip.duration > 0.3
        with pytest.raises(ConfigError):
            piper.synthesize("Hola.", Voice("es_ES-pair-medium#pedro", "es"), tmp_path / "b.wav")


def test_missing_or_corrupt_voice_files_are_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError):
        PiperSynthesizer(PiperSynthesizer.Options(voices=(str(tmp_path / "empty"),))).languages()
    lonely = tmp_path / "lonely" / "en_US-lonely.onnx"
    lonely.parent.mkdir()
    lonely.write_bytes(b"\x00" * 64)
    with pytest.raises(BackendUnavailableError):  # no .onnx.json beside it
        PiperSynthesizer(PiperSynthesizer.Options(voices=(str(lonely),))).languages()
    corrupt = tmp_path / "corrupt" / "en_US-corrupt.onnx"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"not a model" * 50)
    corrupt.with_name(corrupt.name + ".json").write_text(
        _packaged_model().with_suffix(".onnx.json").read_text()
    )
    piper = PiperSynthesizer(PiperSynthesizer.Options(voices=(str(corrupt),)))
    with piper, pytest.raises(BackendUnavailableError):
        piper.synthesize("Hello.", Voice("en_US-corrupt", "en"), tmp_path / "x.wav")
