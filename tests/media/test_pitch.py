"""F0 estimation (YIN in numpy) on tones of known pitch and on espeak-ng voices."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from dubkit.media.pitch import frame_pitches, median_pitch

RATE = 16000


def _voiced(f0: float, seconds: float = 1.0, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6))  # a buzz with harmonics


@pytest.mark.parametrize("f0", [70.0, 98.0, 131.0, 180.0, 247.0, 330.0, 420.0])
def test_tones_with_harmonics_give_their_fundamental(f0: float) -> None:
    assert median_pitch(_voiced(f0), RATE) == pytest.approx(f0, rel=0.02)
    assert median_pitch(_voiced(f0, rate=24000), 24000) == pytest.approx(f0, rel=0.02)


def test_silence_noise_and_short_input_have_no_pitch() -> None:
    assert median_pitch(np.zeros(RATE), RATE) is None
    assert median_pitch(np.random.default_rng(0).normal(size=RATE), RATE) is None
    assert len(frame_pitches(np.ones(100), RATE)) == 0


def test_quiet_frames_are_left_out() -> None:
    signal = np.concatenate([_voiced(120.0, 0.5), 1e-4 * _voiced(300.0, 0.5)])
    assert median_pitch(signal, RATE) == pytest.approx(120.0, rel=0.02)


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_espeak_voices_land_on_their_side_of_165_hz(tmp_path: Path) -> None:
    found = {}
    for voice in ("en+m3", "en+f4"):
        path = tmp_path / f"{voice}.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-w", str(path), "The rain falls on the hills."], check=True
        )
        with wave.open(str(path)) as wav:
            samples = np.frombuffer(wav.readframes(wav.getnframes()), "<i2") / 32768.0
            found[voice] = median_pitch(samples, wav.getframerate())
    assert found["en+m3"] is not None and found["en+m3"] < 165.0
    assert found["en+f4"] is not None and found["en+f4"] > 165.0
