from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from dubkit.backends.mms import MMSSynthesizer
from dubkit.backends.protocols import BackendKind
from dubkit.backends.registry import build_options
from dubkit.errors import BackendRuntimeError, BackendUnavailableError, UnknownLanguageError
from dubkit.models.speech import Voice
from dubkit.testing import check_backend

pytest.importorskip("transformers")

RATE = 22050  # not 16 kHz, so the test sees the model's own rate come through


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.backends.tiny_models import vits_model

    return vits_model(tmp_path_factory.mktemp("mms") / "spa", sampling_rate=RATE)


@pytest.fixture(scope="module")
def synth(model_dir: Path) -> MMSSynthesizer:
    backend = MMSSynthesizer(MMSSynthesizer.Options(models={"es": str(model_dir)}, model_template=None))
    backend.load()
    return backend


def read(path: Path) -> tuple[int, int, np.ndarray]:
    with wave.open(str(path), "rb") as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return wav.getframerate(), wav.getnchannels(), data


def test_constructing_imports_nothing_heavy() -> None:
    code = (
        "import sys\n"
        "from dubkit.backends.mms import MMSSynthesizer as S\n"
        "b = S(S.Options(models={'es': '/m/spa'}))\n"
        "assert b.voices('es')[0].id == '/m/spa'\n"
        "assert b.voices('fr')[0].id == 'facebook/mms-tts-fra'\n"
        "heavy = [m for m in ('torch', 'transformers') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_options_from_a_mapping() -> None:
    opts = build_options(
        BackendKind.SYNTHESIZER,
        "mms",
        MMSSynthesizer.Options,
        {"models": {"es": "/m/spa"}, "model_template": None},
    )
    assert dict(opts.models) == {"es": "/m/spa"}
    assert opts.model_template is None
    with pytest.raises(TypeError):
        opts.models["fr"] = "x"


def test_languages_and_voices(synth: MMSSynthesizer, model_dir: Path) -> None:
    assert synth.languages() == {"es"}
    (voice,) = synth.voices("es")
    assert voice.id == str(model_dir) and voice.language == "es"
    with pytest.raises(UnknownLanguageError):
        synth.voices("fr")
    templated = MMSSynthesizer()
    langs = templated.languages()
    assert langs is not None and {"en", "es", "fr"} <= set(langs)


def test_writes_a_wav_at_the_model_rate(synth: MMSSynthesizer, tmp_path: Path) -> None:
    clip = synth.synthesize(
        "Hola, mundo. ¿Qué tal?", Voice(id="x", language="es"), tmp_path / "a" / "clip.wav"
    )
    rate, channels, data = read(clip.path)
    assert (rate, channels) == (RATE, 1)
    assert clip.sample_rate == RATE and clip.channels == 1
    assert clip.duration == pytest.approx(len(data) / RATE)
    assert clip.duration > 0
    assert not list(clip.path.parent.glob("*.part"))


def test_seed_makes_clips_reproducible(synth: MMSSynthesizer, tmp_path: Path) -> None:
    voice = Voice(id="x", language="es")
    a = read(synth.synthesize("hola mundo", voice, tmp_path / "a.wav").path)[2]
    b = read(synth.synthesize("hola mundo", voice, tmp_path / "b.wav").path)[2]
    assert np.array_equal(a, b)


def test_rate_changes_duration(synth: MMSSynthesizer, tmp_path: Path) -> None:
    text = "el rapido zorro marron salta sobre el perro perezoso"
    slow = synth.synthesize(text, Voice(id="x", language="es", rate=0.5), tmp_path / "slow.wav")
    normal = synth.synthesize(text, Voice(id="x", language="es"), tmp_path / "normal.wav")
    fast = synth.synthesize(text, Voice(id="x", language="es", rate=2.0), tmp_path / "fast.wav")
    assert slow.duration > normal.duration > fast.duration


def test_nothing_speakable_is_a_runtime_error(synth: MMSSynthesizer, tmp_path: Path) -> None:
    with pytest.raises(BackendRuntimeError):
        synth.synthesize("   ", Voice(id="x", language="es"), tmp_path / "empty.wav")


def test_unknown_language_and_missing_model(tmp_path: Path) -> None:
    restricted = MMSSynthesizer(MMSSynthesizer.Options(model_template=None))
    with restricted, pytest.raises(UnknownLanguageError):
        restricted.synthesize("hola", Voice(id="x", language="es"), tmp_path / "x.wav")
    offline = MMSSynthesizer(
        MMSSynthesizer.Options(models={"es": str(tmp_path / "none")}, local_files_only=True)
    )
    with offline, pytest.raises(BackendUnavailableError):
        offline.synthesize("hola", Voice(id="x", language="es"), tmp_path / "x.wav")


def test_conforms(model_dir: Path, tmp_path: Path) -> None:
    opts = MMSSynthesizer.Options(models={"es": str(model_dir)}, model_template=None)
    check_backend("synthesizer", lambda: MMSSynthesizer(opts), workdir=tmp_path)


def test_an_import_failure_carries_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes the import raise ImportError
    with pytest.raises(BackendUnavailableError) as info:
        MMSSynthesizer().load()
    assert info.value.install == "pip install 'dubkit[mms]'"
