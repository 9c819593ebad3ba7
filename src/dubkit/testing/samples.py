"""Sample media for conformance checks, generated in code (no binary fixtures)."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from dubkit.models.media import AudioFile

__all__ = ["write_tone_wav"]


def write_tone_wav(
    path: Path,
    *,
    seconds: float = 2.0,
    rate: int = 16000,
    channels: int = 1,
    frequency: float = 220.0,
    bursts: bool = True,
) -> AudioFile:
    """Write a 16-bit PCM WAV of tone bursts (0.5 s on, 0.5 s off when ``bursts``) and describe it."""
    t = np.arange(int(seconds * rate)) / rate
    signal = 0.3 * np.sin(2 * np.pi * frequency * t) * (1 + 0.3 * np.sin(2 * np.pi * 3 * t))
    if bursts:
        signal *= np.floor(t * 2) % 2 == 0
    pcm = (np.clip(signal, -1, 1) * 32767).astype("<i2")
    frames = np.repeat(pcm[:, None], channels, axis=1).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(frames)
    return AudioFile(path=path, sample_rate=rate, channels=channels, duration=len(pcm) / rate)
