"""preview: a short, valid MP4 cut by stream copy from the keyframe at or before the start."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dubkit.errors import ConfigError, MediaLimitError
from dubkit.media import FFmpeg, MediaLimits, extract_audio, mux, preview, probe
from dubkit.media.preview import check_preview_range


@pytest.fixture(scope="module")
def result(mp4: Path, tmp_path_factory: pytest.TempPathFactory, ffmpeg: FFmpeg) -> Path:
    """A finished dub of the 4 s clip (keyframes every second)."""
    work = tmp_path_factory.mktemp("result")
    info = probe(mp4, ffmpeg=ffmpeg)
    dubbed = extract_audio(info, work, ffmpeg=ffmpeg).full
    return mux(
        info, dubbed, target_language="es", source_language="en", out_path=work / "dub.mp4", ffmpeg=ffmpeg
    )


def _packet_digests(path: Path) -> list[str]:
    """The MD5 of each video packet, as stored (no decoding)."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "framemd5", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.rsplit(",", 1)[1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def _is_run_within(part: list[str], whole: list[str]) -> bool:
    return bool(part) and any(whole[i : i + len(part)] == part for i in range(len(whole) - len(part) + 1))


@pytest.mark.parametrize(
    ("start", "end", "begins"), [(1.0, 2.5, 1.0), (1.5, 3.2, 1.0), (0.0, 1.0, 0.0), (2.2, 99.0, 2.0)]
)
def test_preview(
    result: Path,
    tmp_path: Path,
    ffmpeg: FFmpeg,
    start: float,
    end: float,
    begins: float,
    ffprobe_json: Callable[..., dict[str, Any]],
) -> None:
    out = preview(result, start, end, tmp_path / "preview.mp4", ffmpeg=ffmpeg)
    # Stream copy, never a re-encode: the preview's video packets are the result's, byte for byte.
    assert _is_run_within(_packet_digests(out), _packet_digests(result))
    report = ffprobe_json(
        out, "format=duration", "stream=codec_type,start_time,duration", "stream_tags=language"
    )
    expected = min(end, 4.0) - begins  # from the keyframe at or before start, to end
    assert float(report["format"]["duration"]) == pytest.approx(expected, abs=0.1)
    assert [s["codec_type"] for s in report["streams"]] == ["video", "audio", "audio"]
    assert all(float(s["start_time"]) == pytest.approx(0.0, abs=0.03) for s in report["streams"])
    assert [s["tags"]["language"] for s in report["streams"][1:]] == ["spa", "eng"]
    assert probe(out, ffmpeg=ffmpeg).duration == pytest.approx(expected, abs=0.1)  # a valid file
    assert [p.name for p in tmp_path.iterdir()] == ["preview.mp4"]


def test_audio_only_preview(wav: Path, tmp_path: Path, ffmpeg: FFmpeg) -> None:
    info = probe(wav, ffmpeg=ffmpeg)
    m4a = mux(
        info,
        extract_audio(info, tmp_path, ffmpeg=ffmpeg).full,
        target_language="es",
        source_language="en",
        out_path=tmp_path / "dub.m4a",
        ffmpeg=ffmpeg,
    )
    out = preview(m4a, 1.0, 2.0, tmp_path / "preview.mp4", ffmpeg=ffmpeg)
    assert probe(out, ffmpeg=ffmpeg).duration == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (-1.0, 2.0, "start"),
        (2.0, 2.0, "end"),
        (3.0, 1.0, "end"),
        (4.5, 5.0, "start"),
        (4.0, 9.0, "start"),
        (math.nan, 1.0, "start"),
        (0.0, math.inf, "start"),
    ],
)
def test_bad_ranges(
    result: Path, tmp_path: Path, ffmpeg: FFmpeg, start: float, end: float, field: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        preview(result, start, end, tmp_path / "preview.mp4", ffmpeg=ffmpeg)
    assert caught.value.field == field
    assert not (tmp_path / "preview.mp4").exists()


def test_max_seconds(result: Path, tmp_path: Path, ffmpeg: FFmpeg) -> None:
    with pytest.raises(ConfigError):
        preview(result, 0.0, 3.0, tmp_path / "p.mp4", max_seconds=2.0, ffmpeg=ffmpeg)
    with pytest.raises(ConfigError):
        check_preview_range(0.0, 61.0, max_seconds=60.0)
    assert check_preview_range(0.0, 61.0, max_seconds=60.0, duration=30.0) == 30.0  # cut to the media first


def test_a_result_over_the_default_limits_is_previewed_with_the_callers_limits(
    result: Path, tmp_path: Path, ffmpeg: FFmpeg
) -> None:
    small = MediaLimits(max_size=result.stat().st_size - 1)
    with pytest.raises(MediaLimitError):
        preview(result, 0.0, 1.0, tmp_path / "refused.mp4", ffmpeg=ffmpeg, limits=small)
    roomy = MediaLimits(max_size=result.stat().st_size)
    out = preview(result, 0.0, 1.0, tmp_path / "preview.mp4", ffmpeg=ffmpeg, limits=roomy)
    assert probe(out, ffmpeg=ffmpeg).duration == pytest.approx(1.0, abs=0.1)
