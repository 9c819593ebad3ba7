"""probe: what valid files hold; typed errors for everything else."""

from __future__ import annotations

import random
import struct
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from dubkit.errors import (
    CorruptMediaError,
    MediaError,
    MediaLimitError,
    NoAudioStreamError,
    NotMediaError,
    UnsupportedFormatError,
)
from dubkit.media import FFmpeg, MediaLimits, probe


def test_mp4(mp4: Path, ffmpeg: FFmpeg) -> None:
    info = probe(mp4, ffmpeg=ffmpeg)
    assert info.format_name == "mov,mp4,m4a,3gp,3g2,mj2"
    assert info.duration == pytest.approx(4.0, abs=0.05)
    assert info.size == mp4.stat().st_size
    video, audio = info.video_streams[0], info.primary_audio
    assert (video.codec, video.width, video.height, video.fps) == ("h264", 320, 240, 25.0)
    assert audio is not None
    assert (audio.codec, audio.sample_rate, audio.channels, audio.channel_layout) == (
        "aac",
        48000,
        2,
        "stereo",
    )


def test_mkv(mkv: Path, ffmpeg: FFmpeg) -> None:
    info = probe(mkv, ffmpeg=ffmpeg)
    assert info.format_name == "matroska,webm"
    assert [s.codec for s in info.streams] == ["h264", "opus"]
    assert info.duration == pytest.approx(3.0, abs=0.05)


@pytest.mark.parametrize(
    ("name", "format_name", "rate", "channels"),
    [
        ("wav", "wav", 44100, 2),
        ("mp3", "mp3", 22050, 1),
        ("mono8k", "mov,mp4,m4a,3gp,3g2,mj2", 8000, 1),
        ("surround", "mov,mp4,m4a,3gp,3g2,mj2", 48000, 6),
    ],
)
def test_audio_formats(
    name: str, format_name: str, rate: int, channels: int, request: pytest.FixtureRequest, ffmpeg: FFmpeg
) -> None:
    info = probe(request.getfixturevalue(name), ffmpeg=ffmpeg)
    assert info.format_name == format_name
    audio = info.primary_audio
    assert audio is not None
    assert (audio.sample_rate, audio.channels) == (rate, channels)
    assert info.has_video == (name in ("mono8k", "surround"))


def test_cover_art_is_not_video(cover_art_mp3: Path, ffmpeg: FFmpeg) -> None:
    info = probe(cover_art_mp3, ffmpeg=ffmpeg)
    assert not info.has_video
    assert [s.kind for s in info.streams] == ["audio", "data"]


def test_no_audio_stream(silent_video: Path, ffmpeg: FFmpeg) -> None:
    with pytest.raises(NoAudioStreamError):
        probe(silent_video, ffmpeg=ffmpeg)
    assert probe(silent_video, ffmpeg=ffmpeg, require_audio=False).has_video


# --- limits ------------------------------------------------------------------------------------------


def test_size_is_checked_before_ffprobe_runs(mp4: Path, ffmpeg: FFmpeg) -> None:
    broken = attrs.evolve(ffmpeg, ffprobe=Path("/nonexistent/ffprobe"))  # would fail if it ran
    with pytest.raises(MediaLimitError) as caught:
        probe(mp4, MediaLimits(max_size=1000), ffmpeg=broken)
    assert (caught.value.limit, caught.value.value, caught.value.maximum) == (
        "size",
        mp4.stat().st_size,
        1000,
    )


def test_default_limits() -> None:
    limits = MediaLimits()
    assert (limits.max_width, limits.max_height, limits.max_fps, limits.max_streams) == (3840, 2160, 120, 8)
    assert (limits.max_duration, limits.max_size) == (3 * 3600, 200 * 1024 * 1024)
    with pytest.raises(ValueError):
        MediaLimits(max_fps=0)


@pytest.mark.parametrize(
    ("limits", "limit"),
    [
        (MediaLimits(max_duration=2.0), "duration"),
        (MediaLimits(max_width=300), "width"),
        (MediaLimits(max_height=200), "height"),
        (MediaLimits(max_fps=24), "fps"),
        (MediaLimits(max_streams=1), "streams"),
    ],
)
def test_each_limit(mp4: Path, ffmpeg: FFmpeg, limits: MediaLimits, limit: str) -> None:
    with pytest.raises(MediaLimitError) as caught:
        probe(mp4, limits, ffmpeg=ffmpeg)
    assert caught.value.limit == limit


def test_portrait_video_fits_the_landscape_limit(
    tmp_path: Path, ffmpeg: FFmpeg, make_media: Callable[..., Path]
) -> None:
    portrait = make_media(
        tmp_path / "portrait.mp4",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=120x160:d=1",
        "-f",
        "lavfi",
        "-i",
        "sine=d=1",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-shortest",
    )
    assert probe(portrait, MediaLimits(max_width=160, max_height=120), ffmpeg=ffmpeg).has_video


def test_too_many_streams(tmp_path: Path, ffmpeg: FFmpeg, make_media: Callable[..., Path]) -> None:
    maps = [arg for _ in range(9) for arg in ("-map", "0:a")]
    many = make_media(tmp_path / "many.mka", "-f", "lavfi", "-i", "sine=d=0.5", *maps, "-c:a", "flac")
    with pytest.raises(MediaLimitError) as caught:
        probe(many, ffmpeg=ffmpeg)
    assert (caught.value.limit, caught.value.value) == ("streams", 9)


# --- hostile and broken files: each a typed error, each fast -------------------------------------------


def _rejects(path: Path, ffmpeg: FFmpeg, error: type[MediaError]) -> MediaError:
    start = time.monotonic()
    with pytest.raises(error) as caught:
        probe(path, ffmpeg=ffmpeg)
    elapsed = time.monotonic() - start
    # A hang guard, not a speed check (the process limits stop a stuck ffprobe well before this).
    assert elapsed < 60, f"{path.name} took {elapsed:.2f} s"
    return caught.value


def test_empty_file(tmp_path: Path, ffmpeg: FFmpeg) -> None:
    empty = tmp_path / "empty.mp4"
    empty.touch()
    _rejects(empty, ffmpeg, NotMediaError)


def test_text_file(tmp_path: Path, ffmpeg: FFmpeg) -> None:
    text = tmp_path / "notes.mp4"
    text.write_text("This is not a video.\n" * 50)
    _rejects(text, ffmpeg, NotMediaError)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_bytes(tmp_path: Path, ffmpeg: FFmpeg, seed: int) -> None:
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(random.Random(seed).randbytes(64 * 1024))
    _rejects(noise, ffmpeg, MediaError)


def test_missing_and_special_files(tmp_path: Path, ffmpeg: FFmpeg) -> None:
    _rejects(tmp_path / "absent.mp4", ffmpeg, NotMediaError)
    _rejects(tmp_path, ffmpeg, NotMediaError)


@pytest.mark.parametrize("fraction", [0.1, 0.5, 0.9, 0.99])
def test_truncated_mp4_with_index_in_front(
    mp4: Path, tmp_path: Path, ffmpeg: FFmpeg, fraction: float
) -> None:
    # ffprobe reads the index at the front and reports the full length: only the decode check notices.
    data = mp4.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: int(len(data) * fraction)])
    _rejects(cut, ffmpeg, CorruptMediaError)


def test_truncated_mp4_with_index_at_the_end(
    mp4: Path, tmp_path: Path, ffmpeg: FFmpeg, make_media: Callable[..., Path]
) -> None:
    tail_index = make_media(tmp_path / "tail.mp4", "-i", str(mp4), "-c", "copy")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(tail_index.read_bytes()[: tail_index.stat().st_size // 2])
    _rejects(cut, ffmpeg, CorruptMediaError)


def test_tiny_file_claiming_8k(tmp_path: Path, ffmpeg: FFmpeg, make_media: Callable[..., Path]) -> None:
    huge = make_media(
        tmp_path / "8k.mp4",
        "-f",
        "lavfi",
        "-i",
        "color=black:s=7680x4320:r=25:d=0.04",
        "-f",
        "lavfi",
        "-i",
        "anullsrc=r=8000:cl=mono",
        "-frames:v",
        "1",
        "-t",
        "0.04",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-c:a",
        "aac",
    )
    assert huge.stat().st_size < 200_000
    error = _rejects(huge, ffmpeg, MediaLimitError)
    assert isinstance(error, MediaLimitError)
    assert (error.limit, error.value) == ("width", 7680)


def _claim_duration(source: Path, target: Path, milliseconds: float) -> Path:
    """Rewrite the Duration element of a Matroska file (8-byte float after ID 0x4489)."""
    data = source.read_bytes()
    at = data.index(b"\x44\x89\x88") + 3
    target.write_bytes(data[:at] + struct.pack(">d", milliseconds) + data[at + 8 :])
    return target


@pytest.fixture
def short_mka(tmp_path: Path, make_media: Callable[..., Path]) -> Path:
    return make_media(tmp_path / "short.mka", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "flac")


def test_tiny_file_claiming_a_huge_duration(tmp_path: Path, ffmpeg: FFmpeg, short_mka: Path) -> None:
    liar = _claim_duration(short_mka, tmp_path / "huge.mka", 1e9)  # 11.5 days, in a 20 KB file
    error = _rejects(liar, ffmpeg, MediaLimitError)
    assert isinstance(error, MediaLimitError)
    assert (error.limit, error.value) == ("duration", 1e6)


def test_tiny_file_claiming_a_long_but_allowed_duration(
    tmp_path: Path, ffmpeg: FFmpeg, short_mka: Path
) -> None:
    assert probe(short_mka, ffmpeg=ffmpeg).duration == pytest.approx(1.0, abs=0.05)
    liar = _claim_duration(short_mka, tmp_path / "long.mka", 7200e3)  # 2 hours
    error = _rejects(liar, ffmpeg, CorruptMediaError)
    assert "before the length it claims" in str(error)


def test_unsupported_codec(tmp_path: Path, ffmpeg: FFmpeg, make_media: Callable[..., Path]) -> None:
    dts = make_media(
        tmp_path / "speech.mkv", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "pcm_s16be", "-f", "matroska"
    )
    assert probe(dts, ffmpeg=ffmpeg).primary_audio is not None  # allowed
    wma = make_media(tmp_path / "speech.avi", "-f", "lavfi", "-i", "sine=d=1", "-c:a", "wmav2")
    error = _rejects(wma, ffmpeg, UnsupportedFormatError)
    assert "wmav2" in str(error)


def test_unsupported_container(tmp_path: Path, ffmpeg: FFmpeg, make_media: Callable[..., Path]) -> None:
    aiff = make_media(tmp_path / "sound.mp4", "-f", "lavfi", "-i", "sine=d=1", "-f", "aiff")
    error = _rejects(aiff, ffmpeg, UnsupportedFormatError)
    assert isinstance(error, UnsupportedFormatError)
    assert error.format_name == "aiff"
