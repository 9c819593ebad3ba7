"""The espeak-ng synthesizer with Debian's espeak-ng."""

from __future__ import annotations

import shutil
import wave
from pathlib import Path

import pytest

from dubkit.backends.espeak import EspeakSynthesizer
from dubkit.errors import BackendUnavailableError, ConfigError, UnknownLanguageError
from dubkit.models.speech import Voice
from dubkit.testing.conformance import check_backend

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")


@pytest.fixture(scope="module")
def synth():
    with EspeakSynthesizer() as backend:
        yield backend


def wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as wav:
        return wav.getnframes() / wav.getframerate()


def test_speaks_a_clip_and_reports_its_format(synth, tmp_path: Path) -> None:
    out = tmp_path / "clips" / "hola.wav"
    audio = synth.synthesize("Hola, ¿cómo estás? Hace un día muy bonito.", Voice("es+m3", "es"), out)
    assert audio.path == out
    assert out.is_file()
    assert audio.sample_rate == 22050
    assert audio.channels == 1
    assert audio.duration == pytest.approx(wav_seconds(out))
    assert audio.duration > 1.5
    assert audio.duration < 6.0
    assert [p.name for p in out.parent.iterdir()] == ["hola.wav"]  # no temp file left


def test_voice_rate_sets_the_speed(synth, tmp_path: Path) -> None:
    text = "one two three four five six seven eight nine ten eleven twelve"
    normal = synth.synthesize(text, Voice("en+f2", "en", rate=1.0), tmp_path / "a.wav")
    fast = synth.synthesize(text, Voice("en+f2", "en", rate=1.5), tmp_path / "b.wav")
    assert fast.duration < normal.duration * 0.8


@pytest.mark.parametrize(
    "text",
    [
        "-w /tmp/dubkit-espeak-hijack.wav --help",
        "--version",
        "She said \"run\" and left.\nThen he said: 'stop'.",
    ],
)
def test_text_is_spoken_never_parsed_as_options(synth, tmp_path: Path, text: str) -> None:
    audio = synth.synthesize(text, Voice("en+m3", "en"), tmp_path / "x.wav")
    assert audio.duration > 0.4
    assert not Path("/tmp/dubkit-espeak-hijack.wav").exists()


def test_phoneme_brackets_are_read_as_text(synth, tmp_path: Path) -> None:
    audio = synth.synthesize("[[h@l'oU]] world", Voice("en", "en"), tmp_path / "x.wav")
    assert audio.duration > 0.3


def test_each_language_offers_distinct_voices(synth) -> None:
    voices = synth.voices("es")
    ids = [v.id for v in voices]
    assert len(ids) >= 4
    assert len(set(ids)) == len(ids)
    assert ids[:4] == ["es+m3", "es+f2", "es+m7", "es+f4"]
    assert all(v.language == "es" for v in voices)
    assert voices[1].label == "Spanish female2"


def test_languages_are_iso_639_1(synth) -> None:
    languages = synth.languages()
    assert {"en", "es", "fr", "de", "zh", "pt"} <= set(languages)
    assert all(len(code) == 2 for code in languages)
    assert synth.voices("zh")[0].id == "zh+m3"


def test_errors_are_typed(synth, tmp_path: Path) -> None:
    with pytest.raises(UnknownLanguageError):
        synth.voices("xx")
    with pytest.raises(ConfigError):
        synth.synthesize("hello", Voice("-x", "en"), tmp_path / "x.wav")
    with pytest.raises(ConfigError):
        EspeakSynthesizer.Options(pitch=120)


def test_a_missing_binary_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    missing = EspeakSynthesizer()
    with pytest.raises(BackendUnavailableError) as info:
        missing.load()
    assert info.value.install == "apt-get install espeak-ng"
    with pytest.raises(BackendUnavailableError):
        missing.voices("en")


def test_conforms(tmp_path: Path) -> None:
    check_backend("synthesizer", EspeakSynthesizer, workdir=tmp_path, target="es")
