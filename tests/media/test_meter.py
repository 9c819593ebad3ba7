"""The numpy loudness meter against ffmpeg's ebur128, and its parts adding up to the whole."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dubkit.media import FFmpeg, measure_loudness
from dubkit.media.meter import (
    LoudnessMeter,
    channel_weights,
    combine,
    integrated_loudness,
    measure_samples,
)
from dubkit.media.pcm import open_pcm

from .conftest import ffmpeg_make


def _speechlike(seconds: float, rate: int, channels: int, seed: int) -> np.ndarray:
    """Noise bursts of varying level with pauses (so both gates matter), per channel at different levels."""
    rng = np.random.default_rng(seed)
    frames = int(seconds * rate)
    signal = rng.normal(0, 1, (frames, channels)).astype(np.float32)
    envelope = np.repeat(rng.choice([0.0, 0.01, 0.05, 0.2], size=frames // 2000 + 1), 2000)[:frames]
    levels = np.linspace(1.0, 0.5, channels, dtype=np.float32)
    return np.clip(signal * envelope[:, None].astype(np.float32) * levels, -1, 1)


def _wav(path: Path, samples: np.ndarray, rate: int, layout: str) -> Path:
    raw = path.with_suffix(".f32")
    samples.astype("<f4").tofile(raw)
    channels = samples.shape[1]
    return ffmpeg_make(
        path,
        "-f",
        "f32le",
        "-ar",
        str(rate),
        "-ac",
        str(channels),
        "-i",
        str(raw),
        "-af",
        f"aformat=channel_layouts={layout}",
        "-c:a",
        "pcm_f32le",
    )


@pytest.mark.parametrize(
    ("rate", "layout", "channels"),
    [(48000, "stereo", 2), (44100, "stereo", 2), (16000, "mono", 1), (48000, "5.1", 6)],
)
def test_agrees_with_ffmpeg_ebur128(
    tmp_path: Path, ffmpeg: FFmpeg, rate: int, layout: str, channels: int
) -> None:
    samples = _speechlike(20.0, rate, channels, seed=rate + channels)
    path = _wav(tmp_path / "signal.wav", samples, rate, layout)
    reference = measure_loudness(path, ffmpeg=ffmpeg).integrated
    read = open_pcm(path).read(0, len(samples))
    assert np.array_equal(read, samples)
    ours = measure_samples(read, rate, layout)
    assert math.isfinite(reference)
    assert ours == pytest.approx(reference, abs=0.1)


def test_parts_add_up_to_the_whole() -> None:
    rate = 44100
    samples = _speechlike(12.0, rate, 2, seed=3)
    whole = measure_samples(samples, rate, "stereo")
    parts = []
    # Parts cut off the 100 ms grid, each warmed on the audio just before it: the same sums as one pass.
    for start in range(0, len(samples), 123_457):
        meter = LoudnessMeter(rate, 2, "stereo", start_frame=start)
        meter.warm(samples[max(0, start - rate // 10) : start])
        meter.add(samples[start : start + 123_457])
        parts.append(meter.sums())
    combined = combine(parts)
    assert integrated_loudness(combined, rate, len(samples)) == pytest.approx(whole, abs=1e-4)
    assert combined.peak == pytest.approx(float(np.abs(samples).max()))


def test_scale_and_silence() -> None:
    rate = 16000
    samples = _speechlike(5.0, rate, 1, seed=9)
    louder = measure_samples(samples * 2, rate, "mono")
    assert louder - measure_samples(samples, rate, "mono") == pytest.approx(20 * math.log10(2), abs=1e-3)
    assert measure_samples(np.zeros((rate * 2, 1), np.float32), rate, "mono") == -math.inf
    assert measure_samples(samples[:1000], rate, "mono") == -math.inf  # shorter than one 400 ms block


def test_channel_weights() -> None:
    assert channel_weights(6, "5.1") == (1.0, 1.0, 1.0, 0.0, 1.41, 1.41)
    assert channel_weights(2, "stereo") == (1.0, 1.0)
    assert channel_weights(3, None) == (1.0, 1.0, 1.0)
