"""WAV headers dubkit writes itself: read back by dubkit, ffmpeg and (mono, stereo) Python's wave module."""

from __future__ import annotations

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from dubkit.errors import ConfigError
from dubkit.media import read_wav_info
from dubkit.media.pcm import open_pcm
from dubkit.media.wavwrite import wav_header


@pytest.mark.parametrize(
    ("layout", "channels", "codec", "dtype"),
    [
        ("mono", 1, "pcm_s16le", "<i2"),
        ("stereo", 2, "pcm_f32le", "<f4"),
        ("5.1(side)", 6, "pcm_s16le", "<i2"),
    ],
)
def test_written_files_read_back(tmp_path: Path, layout: str, channels: int, codec: str, dtype: str) -> None:
    frames = 4800
    rng = np.random.default_rng(1)
    samples = (rng.uniform(-0.5, 0.5, (frames, channels)) * (32767 if dtype == "<i2" else 1)).astype(dtype)
    path = tmp_path / "out.wav"
    header = wav_header(sample_rate=48000, channels=channels, layout=layout, codec=codec, frames=frames)
    path.write_bytes(header + samples.tobytes())
    info = read_wav_info(path)
    assert (info.sample_rate, info.channels, info.channel_layout) == (48000, channels, layout)
    assert round(info.duration * 48000) == frames
    scale = 32768 if dtype == "<i2" else 1
    assert np.array_equal(open_pcm(path).read(0, frames) * scale, samples.astype(np.float32))
    decoded = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "f32le", "-"],
        check=True,
        capture_output=True,
    ).stdout
    assert np.allclose(np.frombuffer(decoded, np.float32).reshape(-1, channels) * scale, samples, atol=1)
    if channels <= 2 and codec == "pcm_s16le":
        with wave.open(str(path)) as handle:
            assert handle.getnframes() == frames


def test_rf64_past_four_gib(tmp_path: Path) -> None:
    frames = 700_000_000  # 5.6 GB of stereo 32-bit float: the header says so, the file holds a little
    header = wav_header(sample_rate=48000, channels=2, layout="stereo", codec="pcm_f32le", frames=frames)
    assert header.startswith(b"RF64")
    path = tmp_path / "big.wav"
    path.write_bytes(header + bytes(8 * 100))
    info = read_wav_info(path)
    assert (info.sample_rate, info.channels) == (48000, 2)
    assert round(info.duration * 48000) == 100  # measured by what the file holds


def test_unknown_codec() -> None:
    with pytest.raises(ConfigError):
        wav_header(sample_rate=8000, channels=1, layout="mono", codec="mp3", frames=1)
