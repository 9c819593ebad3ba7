"""Reading PCM WAV files block by block with numpy (no whole-file loads), and writing clips."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import numpy.typing as npt

from dubkit.models.media import AudioFile

__all__ = ["read_wav_mono", "wav_blocks", "write_pcm16"]


def wav_blocks(path: Path, block_seconds: float = 30.0) -> Iterator[tuple[int, npt.NDArray[np.float32]]]:
    """Yield ``(sample_rate, mono float32 samples in [-1, 1])`` blocks of a 16-bit PCM WAV file."""
    with wave.open(str(path), "rb") as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        if width != 2:
            raise ValueError(f"{path.name}: expected 16-bit PCM, got {8 * width}-bit")
        frames = max(1, int(rate * block_seconds))
        while True:
            raw = wav.readframes(frames)
            if not raw:
                return
            data = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
            if channels > 1:
                data = data.reshape(-1, channels).mean(axis=1)
            yield rate, data


def read_wav_mono(path: Path) -> tuple[int, npt.NDArray[np.float32]]:
    """A whole 16-bit PCM WAV file as mono float32 (for short files: clips, test audio)."""
    rate = 16000
    parts: list[npt.NDArray[np.float32]] = []
    for block_rate, block in wav_blocks(path):
        rate = block_rate
        parts.append(block)
    return rate, (np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32))


def write_pcm16(path: Path, samples: npt.NDArray[np.float32], rate: int) -> AudioFile:
    """Write mono float samples in [-1, 1] as a 16-bit PCM WAV file (via a temp name, then renamed)."""
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with wave.open(str(tmp), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    tmp.replace(path)
    return AudioFile(path=path, sample_rate=rate, channels=1, duration=pcm.size / rate, channel_layout="mono")
