"""A line's clip: one audio track of a media file decoded to a small mono WAV, the video left alone."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from dubkit.errors import ConfigError, NoAudioStreamError
from dubkit.media import FFmpeg
from dubkit.media.line_audio import LINE_AUDIO_RATE, MAX_LINE_AUDIO_SECONDS, cut_line_audio


def read(path: Path) -> tuple[int, int, np.ndarray]:
    with wave.open(str(path)) as wav:
        frames = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
        return wav.getframerate(), wav.getnchannels(), frames


def test_a_stretch_of_the_track_as_a_small_mono_wav(mp4: Path, tmp_path: Path, ffmpeg: FFmpeg) -> None:
    out = cut_line_audio(mp4, 1.25, 2.0, tmp_path / "line.wav", ffmpeg=ffmpeg)
    rate, channels, frames = read(out)
    assert (rate, channels) == (LINE_AUDIO_RATE, 1)  # 48 kHz stereo in, 24 kHz mono out
    assert len(frames) == pytest.approx(0.75 * rate, abs=rate * 0.01)
    spectrum = np.abs(np.fft.rfft(frames.astype(np.float64)))
    assert np.argmax(spectrum) * rate / len(frames) == pytest.approx(440, abs=5)  # the source's tone


def test_lower_rates_are_kept_and_the_end_is_cut_to_the_media(
    mp3: Path, tmp_path: Path, ffmpeg: FFmpeg
) -> None:
    rate, _, frames = read(cut_line_audio(mp3, 2.5, 9.0, tmp_path / "line.wav", ffmpeg=ffmpeg))
    assert rate == 22050 and len(frames) / rate == pytest.approx(0.5, abs=0.06)


@pytest.mark.parametrize(
    ("start", "end", "words"),
    [(2.0, 2.0, "before the end"), (0.0, MAX_LINE_AUDIO_SECONDS + 1, "at most"), (5.0, 6.0, "past the end")],
)
def test_bad_ranges_are_refused(
    mp4: Path, tmp_path: Path, ffmpeg: FFmpeg, start: float, end: float, words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        cut_line_audio(mp4, start, end, tmp_path / "line.wav", ffmpeg=ffmpeg)
    assert not (tmp_path / "line.wav").exists()


def test_a_track_the_file_does_not_have(
    silent_video: Path, mp4: Path, tmp_path: Path, ffmpeg: FFmpeg
) -> None:
    with pytest.raises(NoAudioStreamError):
        cut_line_audio(silent_video, 0.0, 1.0, tmp_path / "line.wav", ffmpeg=ffmpeg)
    with pytest.raises(NoAudioStreamError):
        cut_line_audio(mp4, 0.0, 1.0, tmp_path / "line.wav", audio_index=1, ffmpeg=ffmpeg)
