"""Reading PCM WAV files block by block with numpy (no whole-file loads)."""

from __future__ import annotations

import wave
from collections.abc import Generator
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["read_wav_mono", "wav_blocks"]


def wav_blocks(
    path: Path, block_seconds: float = 30.0
) -> Generator[tuple[int, npt.NDArray[np.float32]], None, None]:
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
