"""A synthesizer that 'speaks' each character as a short tone (length grows with the text)."""

from __future__ import annotations

import wave
from pathlib import Path

import attrs
import numpy as np

from dubkit import BaseSynthesizer
from dubkit.models import AudioFile, Voice


class SineVoice(BaseSynthesizer["SineVoice.Options"]):
    """Writes 60 ms of tone per character at a per-voice pitch."""

    @attrs.frozen
    class Options:
        """Options of the sample voice."""

        seconds_per_char: float = 0.06
        sample_rate: int = 22050

    calls = 0  # how many clips were synthesised (the tests count them)

    def voices(self, language: str) -> list[Voice]:
        """Two distinct voices per language."""
        return [
            Voice(id=f"{language}-low", language=language),
            Voice(id=f"{language}-high", language=language),
        ]

    def synthesize(self, text: str, voice: Voice, out_path: Path) -> AudioFile:
        """Write the tone clip."""
        type(self).calls += 1
        rate = self.options.sample_rate
        seconds = max(0.2, len(text) * self.options.seconds_per_char / voice.rate)
        t = np.arange(int(seconds * rate)) / rate
        pitch = 180.0 if voice.id.endswith("low") else 320.0
        pcm = (0.4 * np.sin(2 * np.pi * pitch * t) * 32767).astype("<i2")
        with wave.open(str(out_path), "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(rate)
            wav.writeframes(pcm.tobytes())
        return AudioFile(path=out_path, sample_rate=rate, channels=1, duration=len(pcm) / rate)
