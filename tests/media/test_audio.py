"""extract_audio: an analysis track and a full-quality track from any valid input."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dubkit.errors import ConfigError, NoAudioStreamError
from dubkit.media import FFmpeg, extract_audio, probe, read_wav_info


@pytest.mark.parametrize(
    ("name", "rate", "channels", "layout"),
    [
        ("mp4", 48000, 2, "stereo"),
        ("mkv", 48000, 1, "mono"),
        ("wav", 44100, 2, "stereo"),
        ("mp3", 22050, 1, "mono"),
        ("mono8k", 8000, 1, "mono"),
        ("surround", 48000, 6, "5.1"),
    ],
)
def test_extract(
    name: str,
    rate: int,
    channels: int,
    layout: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    ffmpeg: FFmpeg,
) -> None:
    info = probe(request.getfixturevalue(name), ffmpeg=ffmpeg)
    result = extract_audio(info, tmp_path / "audio", ffmpeg=ffmpeg)
    assert result.analysis.path == tmp_path / "audio" / "analysis.wav"
    assert (result.analysis.sample_rate, result.analysis.channels) == (16000, 1)
    assert (result.full.sample_rate, result.full.channels, result.full.channel_layout) == (
        rate,
        channels,
        layout,
    )
    for track in (result.analysis, result.full):
        # decoded and declared lengths differ by up to a codec frame of padding (AAC at 8 kHz: 128 ms)
        assert track.duration == pytest.approx(info.duration, abs=0.13)
        assert read_wav_info(track.path) == track
    assert sorted(p.name for p in (tmp_path / "audio").iterdir()) == ["analysis.wav", "full.wav"]


def test_float_full_track(
    mp4: Path, tmp_path: Path, ffmpeg: FFmpeg, ffprobe_json: Callable[..., Any]
) -> None:
    result = extract_audio(probe(mp4, ffmpeg=ffmpeg), tmp_path, full_codec="pcm_f32le", ffmpeg=ffmpeg)
    assert ffprobe_json(result.full.path, "stream=codec_name")["streams"] == [{"codec_name": "pcm_f32le"}]
    assert result.full.path.stat().st_size > 4 * 48000 * 2 * 3.9


def test_bad_codec_and_no_audio(mp4: Path, silent_video: Path, tmp_path: Path, ffmpeg: FFmpeg) -> None:
    with pytest.raises(ConfigError):
        extract_audio(probe(mp4, ffmpeg=ffmpeg), tmp_path, full_codec="mp3")
    with pytest.raises(NoAudioStreamError):
        extract_audio(probe(silent_video, ffmpeg=ffmpeg, require_audio=False), tmp_path, ffmpeg=ffmpeg)
