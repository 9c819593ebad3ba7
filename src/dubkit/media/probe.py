"""Probing an input: what it holds, or a typed error that says why dubkit will not touch it.

The checks run cheapest first: the file itself (a regular file, not empty, not over the size limit), then
ffprobe with the demuxer, protocol and codec allow-lists, then the limits and allow-lists on what it found,
then a short decode to catch truncated or corrupt files that ffprobe accepts.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Collection
from pathlib import Path

from dubkit.errors import (
    CorruptMediaError,
    FFmpegError,
    MediaLimitError,
    NoAudioStreamError,
    NotMediaError,
    UnsupportedFormatError,
)
from dubkit.media.binaries import FFmpeg, default_ffmpeg
from dubkit.media.command import ffprobe_argv
from dubkit.media.formats import ATTACHED_PICTURE_CODECS, AUDIO_CODECS, VIDEO_CODECS, demuxer_for
from dubkit.media.integrity import check_integrity
from dubkit.media.limits import MediaLimits
from dubkit.media.probe_json import ProbeReport, parse_probe_json
from dubkit.media.process import run_process
from dubkit.models.media import MediaInfo, StreamInfo

__all__ = ["demuxer_of", "probe"]

logger = logging.getLogger(__name__)

_NOT_WHITELISTED = re.compile(r"\[(?P<name>[\w-]+) @ [^\]]*\] Format not on whitelist")
_CODEC_NOT_WHITELISTED = re.compile(r"Codec \((?P<name>[\w-]+)\) not on whitelist")
_PICTURE_SIZE = re.compile(r"Picture size (?P<w>\d+)x(?P<h>\d+) exceeds specified max pixel count")
_MP4_BOXES = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"skip", b"wide", b"pnot", b"styp"})
_CORRUPT_HINTS = ("moov atom not found", "partial file", "truncat", "corrupt", "invalid atom size")


def demuxer_of(info: MediaInfo) -> str:
    """The short demuxer name to force when reading a probed file (``mov`` for MP4, ...).

    Raises:
        UnsupportedFormatError: The container is not on the allow-list (a MediaInfo not made by probe).
    """
    demuxer = demuxer_for(info.format_name)
    if demuxer is None:
        raise UnsupportedFormatError(
            f"container {info.format_name!r} is not supported",
            path=str(info.path),
            format_name=info.format_name,
        )
    return demuxer


def _check_file(path: Path, limits: MediaLimits) -> int:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise NotMediaError("the file does not exist", path=str(path)) from None
    except OSError as exc:
        raise NotMediaError(f"the file cannot be read: {exc.strerror}", path=str(path)) from exc
    if not stat.S_ISREG(st.st_mode):
        raise NotMediaError("not a regular file", path=str(path))
    if st.st_size == 0:
        raise NotMediaError("the file is empty", path=str(path))
    if st.st_size > limits.max_size:
        raise MediaLimitError("size", st.st_size, limits.max_size, path=str(path))
    if not os.access(path, os.R_OK):
        raise NotMediaError("the file cannot be read: permission denied", path=str(path))
    return st.st_size


def _starts_like_media(path: Path) -> bool:
    """Whether the file begins as an ISO-BMFF (MP4, MOV) file does: a box such as ``ftyp`` at byte 4.

    Tells a cut-short MP4 (corrupt) from a text file that the mov demuxer was asked to read (not media).
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return head[4:8] in _MP4_BOXES


def _frame_size_error(width: int, height: int, limits: MediaLimits, where: str) -> MediaLimitError | None:
    """The error for a frame over the resolution limit (either orientation), or ``None``."""
    if max(width, height) > limits.max_width:
        return MediaLimitError("width", max(width, height), limits.max_width, path=where)
    if min(width, height) > limits.max_height:
        return MediaLimitError("height", min(width, height), limits.max_height, path=where)
    return None


def _translate_failure(exc: FFmpegError, path: Path, limits: MediaLimits) -> Exception:
    """The typed error for an ffprobe failure, judged from its stderr (which never holds file content)."""
    where = str(path)
    tail = exc.stderr_tail
    if match := _NOT_WHITELISTED.search(tail):
        name = match["name"]
        return UnsupportedFormatError(f"container {name!r} is not supported", path=where, format_name=name)
    if match := _CODEC_NOT_WHITELISTED.search(tail):
        name = match["name"]
        return UnsupportedFormatError(f"codec {name!r} is not supported", path=where, format_name=None)
    if match := _PICTURE_SIZE.search(tail):
        width, height = int(match["w"]), int(match["h"])
        error = _frame_size_error(width, height, limits, where)
        return error or MediaLimitError("pixels", width * height, limits.max_pixels, path=where)
    lowered = tail.lower()
    if any(hint in lowered for hint in _CORRUPT_HINTS) and _starts_like_media(path):
        return CorruptMediaError("the file is truncated or corrupt", path=where)
    return NotMediaError("not a media file dubkit can read", path=where)


def _check_limits(report: ProbeReport, path: Path, limits: MediaLimits) -> float:
    where = str(path)
    if report.nb_streams > limits.max_streams:
        raise MediaLimitError("streams", report.nb_streams, limits.max_streams, path=where)
    if report.duration is None or report.duration <= 0:
        raise CorruptMediaError("the file's duration is unknown", path=where)
    if report.duration > limits.max_duration:
        raise MediaLimitError("duration", report.duration, limits.max_duration, path=where)
    for stream in report.streams:
        if stream.kind != "video":
            continue
        if error := _frame_size_error(stream.width or 0, stream.height or 0, limits, where):
            raise error
        if stream.fps is not None and stream.fps > limits.max_fps:
            raise MediaLimitError("fps", stream.fps, limits.max_fps, path=where)
    return report.duration


def _check_codecs(report: ProbeReport, path: Path) -> None:
    for stream in report.streams:
        if stream.index in report.attached_pictures:
            allowed: Collection[str] = ATTACHED_PICTURE_CODECS
        elif stream.kind == "video":
            allowed = VIDEO_CODECS
        elif stream.kind == "audio":
            allowed = AUDIO_CODECS
        else:
            continue  # subtitles and data are never decoded
        if stream.codec not in allowed:
            raise UnsupportedFormatError(
                f"{stream.kind} codec {stream.codec!r} (stream {stream.index}) is not supported",
                path=str(path),
                format_name=report.format_name,
            )


def _check_video_sizes(streams: tuple[StreamInfo, ...], path: Path) -> None:
    for stream in streams:
        if stream.kind == "video" and (not stream.width or not stream.height):
            raise CorruptMediaError(f"video stream {stream.index} has no frame size", path=str(path))


def probe(
    path: os.PathLike[str] | str,
    limits: MediaLimits | None = None,
    *,
    ffmpeg: FFmpeg | None = None,
    require_audio: bool = True,
    verify: bool = True,
    cwd: Path | None = None,
) -> MediaInfo:
    """Find out what a media file holds, or why dubkit rejects it.

    Args:
        path: The file (a server-made path; its content is untrusted).
        limits: Size, duration, resolution, frame rate and stream limits (defaults of MediaLimits).
        ffmpeg: The binaries (`default_ffmpeg` when ``None``).
        require_audio: Reject files without an audio stream.
        verify: Also decode a short stretch to catch truncated or corrupt files.
        cwd: Working directory for ffprobe (the file's folder when ``None``).

    Returns:
        The file's container, duration, size and streams (attached pictures have kind ``data``).

    Raises:
        NotMediaError: Not a regular file, empty, or not media of an accepted container.
        UnsupportedFormatError: The container or a codec is outside the allow-lists.
        CorruptMediaError: Truncated or corrupt.
        NoAudioStreamError: No audio stream (with ``require_audio``).
        MediaLimitError: Over a limit.
        FFmpegNotFoundError: ffprobe is missing.
        FFmpegError: ffprobe timed out or could not run.
    """
    limits = limits or MediaLimits()
    ffmpeg = ffmpeg or default_ffmpeg()
    path = Path(os.path.abspath(os.fspath(path)))
    size = _check_file(path, limits)
    run_limits = ffmpeg.limits.tightened(timeout_s=limits.probe_timeout_s)
    workdir = cwd or path.parent
    try:
        run = run_process(
            ffprobe_argv(ffmpeg, path, max_pixels=limits.max_pixels),
            cwd=workdir,
            limits=run_limits,
            path=path,
        )
    except FFmpegError as exc:
        if exc.timed_out or exc.returncode is None or exc.returncode < 0:
            raise
        raise _translate_failure(exc, path, limits) from exc
    try:
        report = parse_probe_json(run.stdout)
    except ValueError as exc:
        raise NotMediaError("ffprobe could not describe the file", path=str(path)) from exc
    demuxer = demuxer_for(report.format_name)
    if demuxer is None:
        raise UnsupportedFormatError(
            f"container {report.format_name!r} is not supported",
            path=str(path),
            format_name=report.format_name,
        )
    duration = _check_limits(report, path, limits)
    _check_codecs(report, path)
    _check_video_sizes(report.streams, path)
    info = MediaInfo(
        path=path,
        format_name=report.format_name,
        duration=duration,
        size=size,
        bit_rate=report.bit_rate,
        streams=report.streams,
    )
    if not info.audio_streams and require_audio:
        raise NoAudioStreamError("the file has no audio stream", path=str(path))
    if not info.audio_streams and not info.video_streams:
        raise NotMediaError("the file has neither audio nor video", path=str(path))
    if verify:
        check_integrity(info, demuxer, ffmpeg=ffmpeg, limits=run_limits, cwd=workdir)
    logger.info(
        "probed %s: %s, %.2f s, %d streams", path.name, report.format_name, duration, len(report.streams)
    )
    return info
