"""Time-stretching: Rubber Band when installed, atempo otherwise; same length arithmetic either way."""

from __future__ import annotations

import math
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dubkit.errors import ConfigError
from dubkit.media import FFmpeg, read_wav_info, stretch
from dubkit.media.stretch import MAX_TEMPO, MIN_TEMPO, atempo_factors, check_tempo, find_rubberband


@given(st.floats(min_value=MIN_TEMPO, max_value=MAX_TEMPO))
def test_atempo_factors_multiply_to_the_tempo(tempo: float) -> None:
    factors = atempo_factors(tempo)
    assert all(0.5 <= f <= 2.0 for f in factors)
    assert math.prod(factors) == pytest.approx(tempo, rel=1e-9)


def test_atempo_factors_edges() -> None:
    assert atempo_factors(1.0) == ()
    assert atempo_factors(3.0) == (2.0, 1.5)
    assert atempo_factors(0.3) == (0.5, 0.6)


@pytest.mark.parametrize("bad", [0.0, -1.0, 0.1, 5.0, math.nan, math.inf])
def test_unusable_tempo(bad: float) -> None:
    with pytest.raises(ConfigError):
        check_tempo(bad)


@pytest.mark.parametrize("engine", ["atempo", "rubberband"])
@pytest.mark.parametrize("tempo", [0.8, 1.25, 2.5])
def test_stretch_lengths(
    engine: str, tempo: float, tmp_path: Path, ffmpeg: FFmpeg, sine_wav: Callable[..., Path]
) -> None:
    if engine == "rubberband" and find_rubberband() is None:
        pytest.skip("rubberband-cli is not installed")
    src = sine_wav("clip.wav", 440, 2.0)
    out = stretch(src, tmp_path / "out" / "fast.wav", tempo, engine=engine, ffmpeg=ffmpeg)  # type: ignore[arg-type]
    info = read_wav_info(out)
    assert info.duration == pytest.approx(2.0 / tempo, abs=0.03)
    assert info.sample_rate == 22050
    assert [p.name for p in out.parent.iterdir()] == ["fast.wav"]  # no temp file left


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_stretch_speech(tmp_path: Path, ffmpeg: FFmpeg) -> None:
    speech = tmp_path / "hola.wav"
    subprocess.run(["espeak-ng", "-v", "es", "-w", str(speech), "Hola, ¿qué tal estás hoy?"], check=True)
    before = read_wav_info(speech)
    after = read_wav_info(stretch(speech, tmp_path / "fast.wav", 1.2, ffmpeg=ffmpeg))
    assert after.duration == pytest.approx(before.duration / 1.2, abs=0.03)


def test_rubberband_required_but_missing(
    tmp_path: Path, ffmpeg: FFmpeg, sine_wav: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = sine_wav("a.wav", 440, 0.5)
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ConfigError):
        stretch(clip, tmp_path / "b.wav", 1.1, engine="rubberband", ffmpeg=ffmpeg)
