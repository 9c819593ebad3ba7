"""Test audio for the speech backends, spoken by espeak-ng and converted to 16 kHz mono s16 WAV by ffmpeg."""

from __future__ import annotations

import shutil
import subprocess
import wave
from pathlib import Path

import attrs
import numpy as np
import pytest

from dubkit.models.media import AudioFile

RATE = 16000
S16 = ("-sample_fmt", "s16")

#: The script of the single-voice English clip.
ENGLISH_LINES = (
    "The quick brown fox jumps over the lazy dog.",
    "Please call Stella and ask her to bring these things with her from the store.",
)

#: (espeak-ng voice, text) of the two-voice clip: two speakers taking turns.
DIALOGUE = (
    ("en+m3", "Good morning, how are you doing today?"),
    ("en+f4", "I am fine, thank you. The weather is lovely this morning."),
    ("en+m3", "Shall we take a walk in the park after breakfast?"),
    ("en+f4", "Yes, that sounds like a wonderful idea to me."),
)


@attrs.frozen
class Line:
    """Where a generated line sits in its clip."""

    start: float
    end: float
    text: str
    voice: str


@attrs.frozen
class SpokenClip:
    """A generated test clip and what it says where."""

    audio: AudioFile
    lines: tuple[Line, ...]

    @property
    def text(self) -> str:
        return " ".join(line.text for line in self.lines)


def need(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        pytest.skip(f"{binary} is not installed")
    return path


def speak(text: str, voice: str, work: Path, name: str) -> np.ndarray:
    """``text`` spoken by espeak-ng ``voice`` as 16 kHz mono float32 samples."""
    raw, converted = work / f"{name}.raw.wav", work / f"{name}.wav"
    subprocess.run([need("espeak-ng"), "-v", voice, "-w", str(raw), "--", text], check=True)
    subprocess.run(
        [
            need("ffmpeg"),
            "-v",
            "error",
            "-y",
            "-i",
            str(raw),
            "-ar",
            str(RATE),
            "-ac",
            "1",
            *S16,
            str(converted),
        ],
        check=True,
    )
    with wave.open(str(converted), "rb") as wav:
        data = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
    return data.astype(np.float32) / 32768.0


def write_wav(path: Path, samples: np.ndarray) -> AudioFile:
    pcm = np.clip(np.round(samples * 32767.0), -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(pcm.tobytes())
    return AudioFile(path=path, sample_rate=RATE, channels=1, duration=len(pcm) / RATE)


def trim(samples: np.ndarray, level: float = 0.01) -> np.ndarray:
    """Cut the leading and trailing near-silence espeak-ng leaves around a line."""
    loud = np.flatnonzero(np.abs(samples) > level)
    return samples[loud[0] : loud[-1] + 1] if loud.size else samples


def build_clip(
    path: Path,
    lines: tuple[tuple[str, str], ...],
    *,
    lead: float = 0.6,
    pause: float = 1.2,
    tail: float = 0.8,
) -> SpokenClip:
    """Speak ``(voice, text)`` lines one after another with silent pauses between them."""
    work = path.parent / f"{path.stem}.parts"
    work.mkdir(exist_ok=True)
    rng = np.random.default_rng(7)
    pieces = [np.zeros(int(lead * RATE), dtype=np.float32)]
    placed: list[Line] = []
    cursor = lead
    for index, (voice, text) in enumerate(lines):
        speech = trim(speak(text, voice, work, f"line{index}"))
        placed.append(Line(cursor, cursor + len(speech) / RATE, text, voice))
        pieces.append(speech)
        gap = pause if index < len(lines) - 1 else tail
        pieces.append(np.zeros(int(gap * RATE), dtype=np.float32))
        cursor += (len(speech) + int(gap * RATE)) / RATE
    samples = np.concatenate(pieces)
    samples = samples + rng.normal(0.0, 0.0005, samples.shape).astype(np.float32)  # a faint noise floor
    return SpokenClip(write_wav(path, samples), tuple(placed))


@pytest.fixture(scope="session")
def english_clip(tmp_path_factory: pytest.TempPathFactory) -> SpokenClip:
    """Two English sentences by one voice (en-us) with a pause between them."""
    path = tmp_path_factory.mktemp("speech") / "english.wav"
    return build_clip(path, tuple(("en-us", text) for text in ENGLISH_LINES))


@pytest.fixture(scope="session")
def dialogue_clip(tmp_path_factory: pytest.TempPathFactory) -> SpokenClip:
    """Two espeak-ng voices (en+m3, en+f4) taking turns."""
    path = tmp_path_factory.mktemp("speech") / "dialogue.wav"
    return build_clip(path, DIALOGUE)


@pytest.fixture(scope="session")
def noise_clip(tmp_path_factory: pytest.TempPathFactory) -> AudioFile:
    """Eight seconds of silence and faint white noise, no speech."""
    path = tmp_path_factory.mktemp("speech") / "noise.wav"
    rng = np.random.default_rng(3)
    samples = np.zeros(8 * RATE, dtype=np.float32)
    samples[3 * RATE :] = rng.normal(0.0, 0.003, 5 * RATE)
    return write_wav(path, samples)
