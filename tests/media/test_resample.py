"""Clips rendered in numpy match ffmpeg's rendering: same timing, same level, same channel matrix."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from dubkit.media.pcm import open_pcm
from dubkit.media.resample import mono_upmix, upsample

from .conftest import ffmpeg_make


def _ffmpeg_render(source: Path, rate: int, layout: str) -> np.ndarray:
    out = subprocess.run(
        [
            "ffmpeg", "-nostdin", "-v", "error", "-i", str(source),
            "-af", f"aresample={rate},aformat=sample_fmts=flt:channel_layouts={layout}", "-f", "f32le", "-",
        ],
        check=True,
        capture_output=True,
    ).stdout  # fmt: skip
    return np.frombuffer(out, dtype=np.float32)


@pytest.mark.parametrize(
    ("rate", "factor", "layout", "channels"), [(22050, 2, "stereo", 2), (16000, 3, "5.1", 6)]
)
def test_matches_ffmpeg(tmp_path: Path, rate: int, factor: int, layout: str, channels: int) -> None:
    source = ffmpeg_make(
        tmp_path / "clip.wav",
        "-f", "lavfi", "-i", f"aevalsrc='0.4*sin(2*PI*(200+300*t)*t)':d=1.5:s={rate}", "-c:a", "pcm_s16le",
    )  # fmt: skip
    mono = open_pcm(source).read(0, open_pcm(source).frames)[:, 0]
    matrix = mono_upmix(channels, layout)
    assert matrix is not None
    ours = upsample(mono, factor)[:, None] * matrix[None, :]
    theirs = _ffmpeg_render(source, rate * factor, layout).reshape(-1, channels)
    assert ours.shape == theirs.shape
    error = float(np.mean((ours - theirs) ** 2))
    assert 10 * np.log10(float(np.mean(theirs**2)) / error) > 40  # same timing and level to -40 dB


def test_upmix_matrices() -> None:
    assert mono_upmix(1, "mono") == pytest.approx([1.0])
    assert mono_upmix(2, "stereo") == pytest.approx([0.7071, 0.7071], abs=1e-4)
    assert mono_upmix(6, "5.1") == pytest.approx([0, 0, 1, 0, 0, 0])
    assert mono_upmix(3, None) is None


def test_upsampling_keeps_the_band_and_removes_images() -> None:
    rate, factor = 8000, 3
    t = np.arange(rate) / rate
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    up = upsample(tone, factor)
    spectrum = np.abs(np.fft.rfft(up * np.hanning(len(up))))
    freqs = np.fft.rfftfreq(len(up), 1 / (rate * factor))
    peak = spectrum.max()
    assert abs(freqs[spectrum.argmax()] - 1000) < 2
    images = spectrum[
        (freqs > 4500) & (freqs < 11500)
    ]  # where zero-stuffing would leave copies (7 and 9 kHz)
    assert images.max() < peak * 1e-3
