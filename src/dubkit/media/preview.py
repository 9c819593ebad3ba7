"""A short preview cut from a finished result, fast: stream copy from the keyframe at or before ``start``."""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import ffmpeg as ffmpeg_python

from dubkit.errors import ConfigError
from dubkit.media.binaries import FFmpeg, default_ffmpeg
from dubkit.media.command import ffmpeg_argv, ffprobe_keyframe_argv, file_url, media_input
from dubkit.media.limits import MediaLimits
from dubkit.media.probe import demuxer_of, probe
from dubkit.media.process import run_process
from dubkit.media.staging import staged_output
from dubkit.models.media import MediaInfo

__all__ = ["check_preview_range", "preview"]

logger = logging.getLogger(__name__)


def check_preview_range(
    start: float, end: float, *, max_seconds: float, duration: float | None = None
) -> float:
    """Validate a preview range; the end to use (cut to ``duration`` when given, before the length check).

    Raises:
        ConfigError: A non-finite or negative bound, ``end <= start``, longer than ``max_seconds``, or a
            start at or past the end of the media.
    """
    if not (math.isfinite(start) and math.isfinite(end)):
        raise ConfigError("preview bounds must be finite numbers", field="start")
    if start < 0:
        raise ConfigError(f"preview start {start:g} is negative", field="start")
    if end <= start:
        raise ConfigError(f"preview end {end:g} is not after its start {start:g}", field="end")
    if duration is not None:
        if start >= duration:
            raise ConfigError(f"preview start {start:g} is past the end ({duration:.3f} s)", field="start")
        end = min(end, duration)
    if end - start > max_seconds:
        raise ConfigError(f"a preview lasts at most {max_seconds:g} s, not {end - start:g}", field="end")
    return end


def _keyframe_at_or_before(info: MediaInfo, demuxer: str, start: float, ffmpeg: FFmpeg, cwd: Path) -> float:
    """Time of the video keyframe at or before ``start`` (``start`` itself for audio-only files)."""
    if not info.video_streams or start <= 0:
        return max(0.0, start)
    argv = ffprobe_keyframe_argv(ffmpeg, info.path, demuxer, stream=info.video_streams[0].index, at=start)
    run = run_process(argv, cwd=cwd, limits=ffmpeg.limits.tightened(timeout_s=30.0), path=info.path)
    for line in run.stdout.decode("ascii", "replace").splitlines():
        time_text, _, flags = line.partition(",")
        try:
            keyframe = float(time_text)
        except ValueError:
            continue
        if "K" in flags and math.isfinite(keyframe) and 0 <= keyframe <= start:
            return keyframe
    logger.debug("no keyframe found before %.3f s in %s; cutting at the start asked", start, info.path.name)
    return start


def preview(
    path: os.PathLike[str] | str,
    start: float,
    end: float,
    out_path: Path,
    max_seconds: float = 60.0,
    *,
    ffmpeg: FFmpeg | None = None,
    cwd: Path | None = None,
    limits: MediaLimits | None = None,
) -> Path:
    """Cut ``[start, end]`` of a finished result into a small MP4, without re-encoding.

    The cut begins exactly at the keyframe at or before ``start`` (found with ffprobe, then an input seek to
    it with stream copy), so it may begin up to one keyframe interval early. Video and audio tracks are
    copied; subtitle tracks are left out (their samples span the cut and would shift the timeline; the
    SRT/VTT files serve previews).

    Args:
        path: A finished result (an MP4 or M4A dubkit wrote).
        start: Seconds.
        end: Seconds; cut to the media's length.
        out_path: The MP4 to write.
        max_seconds: Longest preview allowed.
        ffmpeg: The binaries (`default_ffmpeg` when ``None``).
        cwd: Working directory (``out_path``'s folder when ``None``).
        limits: What the result may be (size, duration); default `MediaLimits()`. A result can be larger
            than the input it was made from, so callers serving results pass their own.

    Returns:
        ``out_path``.

    Raises:
        ConfigError: A bad range (see `check_preview_range`).
        MediaError: The file is not acceptable media (as for `dubkit.media.probe`).
        FFmpegError: ffmpeg failed or timed out.
    """
    check_preview_range(start, end, max_seconds=math.inf)
    ffmpeg = ffmpeg or default_ffmpeg()
    out_path = Path(os.path.abspath(out_path))
    workdir = cwd or out_path.parent
    workdir.mkdir(parents=True, exist_ok=True)
    info = probe(path, limits or MediaLimits(), ffmpeg=ffmpeg, require_audio=False, verify=False, cwd=workdir)
    end = check_preview_range(start, end, max_seconds=max_seconds, duration=info.duration)
    demuxer = demuxer_of(info)
    begin = _keyframe_at_or_before(info, demuxer, start, ffmpeg, workdir)
    source = media_input(info.path, demuxer, ffmpeg=ffmpeg, ss=f"{begin:.6f}", t=f"{end - begin:.6f}")
    streams = [source[str(s.index)] for s in info.streams if s.kind in ("video", "audio")]
    with staged_output(out_path) as temp:
        stream = ffmpeg_python.output(
            *streams,
            file_url(temp),
            f="mp4",
            c="copy",
            movflags="+faststart",
        )
        run_process(ffmpeg_argv(ffmpeg, stream), cwd=workdir, limits=ffmpeg.limits, path=info.path)
    logger.info("preview %s: %.2f-%.2f s of %s", out_path.name, start, end, info.path.name)
    return out_path
