"""The kokoro synthesizer on the real Kokoro-82M weights that ship in packages (no stand-ins)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tests.backends.spoken import check_spoken

from dubkit.backends.kokoro import KokoroSynthesizer
from dubkit.backends.kokoro_model import (
    KOKORO_MODEL_SHA256,
    KOKORO_MODEL_SIZE,
    assemble_kokoro_model,
    packaged_voices_path,
)
from dubkit.backends.wav import read_wav_mono
from dubkit.digests import file_sha256
from dubkit.errors import BackendUnavailableError, ConfigError, UnspeakableTextError
from dubkit.media.pitch import median_pitch
from dubkit.models.speech import FEMALE_PITCH_HZ, Voice
from dubkit.testing.conformance import check_backend

pytest.importorskip("kokoro_onnx")
pytestmark = pytest.mark.models

SPANISH = "El río lleva la casa verde cada mañana."


def _pitch(path: Path) -> float:
    rate, samples = read_wav_mono(path)
    pitch = median_pitch(samples, rate)
    assert pitch is not None
    return pitch


def test_the_conformance_suite_passes() -> None:
    check_backend("synthesizer", KokoroSynthesizer, target="es")


def test_speaks_spanish_in_a_female_and_a_male_voice(kokoro_voice: KokoroSynthesizer, tmp_path: Path) -> None:
    female = kokoro_voice.synthesize(SPANISH, Voice("jf_gongitsune", "es"), tmp_path / "f.wav")
    male = kokoro_voice.synthesize(SPANISH, Voice("jm_kumo", "es"), tmp_path / "m.wav")
    assert (female.sample_rate, female.channels) == (24000, 1)
    for clip in (female, male):
        check_spoken(clip)
    # Twice the sentence takes about twice as long: the clip says the text, not a fixed sound.
    twice = kokoro_voice.synthesize(f"{SPANISH} {SPANISH}", Voice("jm_kumo", "es"), tmp_path / "m2.wav")
    assert 1.6 < check_spoken(twice) / check_spoken(male) < 2.5
    assert _pitch(tmp_path / "f.wav") > FEMALE_PITCH_HZ > _pitch(tmp_path / "m.wav")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_blend_is_a_voice_of_its_own(kokoro_voice: KokoroSynthesizer, tmp_path: Path) -> None:
    pure = kokoro_voice.synthesize(SPANISH, Voice("jm_kumo", "es"), tmp_path / "pure.wav")
    blend = kokoro_voice.synthesize(
        SPANISH, Voice("jm_kumo:0.75+jf_alpha:0.25", "es"), tmp_path / "blend.wav"
    )
    assert blend.duration > 1.0
    _, a = read_wav_mono(pure.path)
    _, b = read_wav_mono(blend.path)
    assert a.shape != b.shape or not np.allclose(a, b)
    assert _pitch(pure.path) < _pitch(blend.path) < FEMALE_PITCH_HZ  # a quarter of a female voice, still male


def test_rate_sets_the_speed(kokoro_voice: KokoroSynthesizer, tmp_path: Path) -> None:
    normal = kokoro_voice.synthesize(SPANISH, Voice("jf_nezumi", "es"), tmp_path / "a.wav")
    fast = kokoro_voice.synthesize(SPANISH, Voice("jf_nezumi", "es", rate=1.3), tmp_path / "b.wav")
    assert fast.duration < normal.duration * 0.9


def test_voices_offer_both_registers_and_blends(kokoro_voice: KokoroSynthesizer) -> None:
    voices = kokoro_voice.voices("es")
    ids = [v.id for v in voices]
    assert len(ids) == len(set(ids)) >= 15
    assert ids[:5] == ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]
    assert sum(v.register == "male" for v in voices) >= 5
    assert all(v.language == "es" and v.pitch for v in voices)
    assert kokoro_voice.languages() == {"en", "es", "fr", "it", "pt", "hi", "ja", "zh"}


@pytest.mark.parametrize(("text", "reason"), [("", "empty"), ("  \n ", "empty"), ("!!! ... ¿?", "empty")])
def test_text_without_words_is_unspeakable(
    kokoro_voice: KokoroSynthesizer, tmp_path: Path, text: str, reason: str
) -> None:
    with pytest.raises(UnspeakableTextError) as caught:
        kokoro_voice.synthesize(text, Voice("jf_alpha", "es"), tmp_path / "x.wav")
    assert caught.value.reason == reason
    assert not (tmp_path / "x.wav").exists()


def test_a_language_kokoro_lacks_is_unspeakable(kokoro_voice: KokoroSynthesizer, tmp_path: Path) -> None:
    with pytest.raises(UnspeakableTextError) as caught:
        kokoro_voice.synthesize("Guten Morgen.", Voice("jf_alpha", "de"), tmp_path / "x.wav")
    assert (caught.value.reason, caught.value.language) == ("language", "de")


@pytest.mark.parametrize("voice_id", ["nobody", "jf_alpha:0+jm_kumo:1", "jf_alpha:x", "jf_alpha+jf_alpha"])
def test_an_unknown_or_malformed_voice_is_a_config_error(
    kokoro_voice: KokoroSynthesizer, tmp_path: Path, voice_id: str
) -> None:
    with pytest.raises(ConfigError):
        kokoro_voice.synthesize(SPANISH, Voice(voice_id, "es"), tmp_path / "x.wav")


def test_a_corrupt_model_file_is_unavailable_with_the_install_command(tmp_path: Path) -> None:
    bad = tmp_path / "kokoro.onnx"
    bad.write_bytes(b"not an onnx model" * 100)
    with pytest.raises(BackendUnavailableError) as caught:
        KokoroSynthesizer(KokoroSynthesizer.Options(model=str(bad))).load()
    assert "dubkit[voices]" in str(caught.value)
    with pytest.raises(BackendUnavailableError):
        KokoroSynthesizer(KokoroSynthesizer.Options(model=str(tmp_path / "missing.onnx"))).load()


def test_a_bad_voices_file_is_unavailable(tmp_path: Path) -> None:
    bad = tmp_path / "voices.npz"
    np.savez(bad, jf_alpha=np.zeros((3, 7), dtype=np.float32))
    with pytest.raises(BackendUnavailableError):
        KokoroSynthesizer(KokoroSynthesizer.Options(voices=str(bad))).load()
    with pytest.raises(BackendUnavailableError):
        KokoroSynthesizer(KokoroSynthesizer.Options(voices=str(tmp_path / "none.npz"))).voices("es")


def test_another_voices_file_is_used(kokoro_voice: KokoroSynthesizer, tmp_path: Path) -> None:
    source = np.load(packaged_voices_path())
    with source:
        np.savez(tmp_path / "mine.npz", af_mine=source["jf_nezumi"], am_mine=source["jm_kumo"])
    other = KokoroSynthesizer(KokoroSynthesizer.Options(voices=str(tmp_path / "mine.npz"), blends=False))
    assert [v.id for v in other.voices("en")] == ["af_mine", "am_mine"]  # made for English: first
    assert [v.register for v in other.voices("en")] == ["female", "male"]


def test_the_device_option_is_checked() -> None:
    with pytest.raises(ConfigError):
        KokoroSynthesizer.Options(device="tpu")
    with pytest.raises(ConfigError):
        KokoroSynthesizer.Options(threads=0)


def test_the_model_is_assembled_once_checked_and_repaired(tmp_path: Path) -> None:
    path = assemble_kokoro_model(tmp_path)
    assert path.stat().st_size == KOKORO_MODEL_SIZE
    assert file_sha256(path) == KOKORO_MODEL_SHA256
    stamp = path.stat().st_mtime_ns
    assert assemble_kokoro_model(tmp_path) == path and path.stat().st_mtime_ns == stamp  # kept
    with path.open("r+b") as handle:  # same size, one byte changed
        handle.seek(1000)
        handle.write(b"\x00" if handle.read(1) != b"\x00" else b"\x01")
    assert file_sha256(assemble_kokoro_model(tmp_path)) == KOKORO_MODEL_SHA256  # hashed, re-assembled
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp file left
