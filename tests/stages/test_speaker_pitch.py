"""Each speaker's median pitch, measured on their lines of the analysis track."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from dubkit.models.media import AudioFile
from dubkit.models.speech import TranscriptSegment
from dubkit.stages.speaker_pitch import speaker_profiles

RATE = 16000


def _buzz(f0: float, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return 0.2 * sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 5))


def _track(path: Path, parts: list[tuple[float, float]]) -> tuple[AudioFile, list[TranscriptSegment]]:
    """A 16 kHz track of (f0, seconds) pieces with a second of silence between; a line per piece."""
    audio, segments, at = [], [], 0.0
    for i, (f0, seconds) in enumerate(parts):
        audio += [_buzz(f0, seconds), np.zeros(RATE)]
        speaker = "HIGH" if f0 > 165 else "LOW"
        segments.append(TranscriptSegment(id=f"s{i}", start=at, end=at + seconds, text="x", speaker=speaker))
        at += seconds + 1.0
    pcm = (np.concatenate(audio) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return AudioFile(path=path, sample_rate=RATE, channels=1, duration=len(pcm) / RATE), segments


def test_two_speakers_get_their_own_pitch_and_speech_time(tmp_path: Path) -> None:
    audio, segments = _track(tmp_path / "a.wav", [(110.0, 1.5), (230.0, 1.0), (112.0, 2.0), (228.0, 1.2)])
    low, high = speaker_profiles(audio, segments)
    assert (low.speaker, high.speaker) == ("LOW", "HIGH")
    assert low.pitch == pytest.approx(111.0, rel=0.03) and low.register == "male"
    assert high.pitch == pytest.approx(229.0, rel=0.03) and high.register == "female"
    assert low.seconds == pytest.approx(3.5) and high.seconds == pytest.approx(2.2)


def test_long_speakers_are_measured_on_a_spread_of_their_lines(tmp_path: Path) -> None:
    audio, segments = _track(tmp_path / "b.wav", [(150.0, 1.0)] * 30)
    (profile,) = speaker_profiles(audio, segments, max_seconds=5.0)
    assert profile.pitch == pytest.approx(150.0, rel=0.03)
    assert profile.seconds == pytest.approx(30.0)


def test_no_audio_or_no_voice_gives_no_pitch(tmp_path: Path) -> None:
    audio, segments = _track(tmp_path / "c.wav", [(120.0, 1.0)])
    assert speaker_profiles(None, segments)[0].pitch is None
    assert (
        speaker_profiles(
            AudioFile(path=tmp_path / "gone.wav", sample_rate=RATE, channels=1, duration=1.0), segments
        )[0].pitch
        is None
    )
    short = [TranscriptSegment(id="s", start=0.0, end=0.05, text="x", speaker="A")]
    assert speaker_profiles(audio, short)[0].pitch is None
    assert speaker_profiles(audio, []) == ()
