"""Building ffmpeg and ffprobe argv lists that cannot be tricked by file names or file content.

Commands are built with ffmpeg-python (``ffmpeg.input(...).output(...)``) and compiled to argv with
`ffmpeg_argv`, which puts dubkit's global safety options first. Every path becomes one ``file:`` URL
with an absolute path, so a name like ``-x.mp4`` or ``http:a.mp4`` is never read as an option or another
protocol, and every input is opened with its demuxer forced and the protocol, format and codec
allow-lists set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python

from dubkit.errors import UnsupportedFormatError
from dubkit.media.binaries import FFmpeg
from dubkit.media.formats import DEMUXERS, PROBE_ONLY_DECODERS, decoder_whitelist, format_whitelist

__all__ = [
    "INPUT_DEMUXERS",
    "PROBE_ENTRIES",
    "ffmpeg_argv",
    "ffprobe_argv",
    "ffprobe_keyframe_argv",
    "file_url",
    "media_input",
]

#: What ffprobe reports: structure only, never tag values other than the language (no titles, comments).
PROBE_ENTRIES = (
    "format=format_name,duration,size,bit_rate,nb_streams"
    ":stream=index,codec_type,codec_name,width,height,avg_frame_rate,r_frame_rate,"
    "sample_rate,channels,channel_layout,duration"
    ":stream_tags=language"
    ":stream_disposition=attached_pic"
)


#: Demuxers an input may be opened with: the allowed containers, and SubRip for dubkit's own subtitles.
INPUT_DEMUXERS = frozenset({*DEMUXERS.values(), "srt"})


def file_url(path: os.PathLike[str] | str) -> str:
    """``file:`` URL of ``path`` made absolute (``-x.mp4`` -> ``file:/job/-x.mp4``): always one argument."""
    return "file:" + os.path.abspath(os.fspath(path))


def media_input(
    path: os.PathLike[str] | str,
    demuxer: str,
    *,
    ffmpeg: FFmpeg,
    codecs: Iterable[str] | None = None,
    **options: Any,
) -> Any:
    """An ffmpeg-python input with its demuxer forced and every allow-list set.

    Args:
        path: The file to read.
        demuxer: Short demuxer name (``mov``, ``matroska``, ``wav``, ...), as probe found it.
        ffmpeg: Supplies thread and frame-size limits.
        codecs: Codec names whose decoders may run (every allowed codec when ``None``).
        **options: Further input options (``ss``, ``t``, ``sseof``).

    Returns:
        The ffmpeg-python input node.

    Raises:
        UnsupportedFormatError: ``demuxer`` is not one dubkit allows.
    """
    if demuxer not in INPUT_DEMUXERS:
        raise UnsupportedFormatError(
            f"demuxer {demuxer!r} is not allowed", path=str(path), format_name=demuxer
        )
    return ffmpeg_python.input(
        file_url(path),
        f=demuxer,
        protocol_whitelist="file,pipe",
        format_whitelist=demuxer,
        codec_whitelist=decoder_whitelist(codecs),
        max_pixels=ffmpeg.limits.max_pixels,
        threads=ffmpeg.limits.threads,
        **options,
    )


def ffmpeg_argv(ffmpeg: FFmpeg, stream: Any, *, loglevel: str = "error") -> list[str]:
    """The argv that runs an ffmpeg-python output ``stream``, global safety options first.

    ``-nostdin`` (never read the terminal), ``-y`` (outputs are fresh temp names the caller owns), no
    banner and no progress lines, and the thread limit for filter graphs.
    """
    threads = str(ffmpeg.limits.threads)
    return [
        str(ffmpeg.ffmpeg),
        "-nostdin",
        "-hide_banner",
        "-nostats",
        "-loglevel",
        loglevel,
        "-y",
        "-filter_threads",
        threads,
        "-filter_complex_threads",
        threads,
        *ffmpeg_python.get_args(stream),
    ]


def ffprobe_argv(ffmpeg: FFmpeg, path: Path, *, max_pixels: int) -> list[str]:
    """The argv that probes ``path``: demuxer, protocol and codec allow-lists, structure only, as JSON."""
    return [
        str(ffmpeg.ffprobe),
        "-hide_banner",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        format_whitelist(),
        "-codec_whitelist",
        ",".join((decoder_whitelist(), *PROBE_ONLY_DECODERS)),
        "-max_pixels",
        str(max_pixels),
        "-threads",
        str(ffmpeg.limits.threads),
        "-show_entries",
        PROBE_ENTRIES,
        "-of",
        "json",
        "-i",
        file_url(path),
    ]


def ffprobe_keyframe_argv(ffmpeg: FFmpeg, path: Path, demuxer: str, *, stream: int, at: float) -> list[str]:
    """The argv that prints the time of the first packet of ``stream`` read after seeking to ``at``.

    A seek lands on the keyframe at or before ``at``, so that packet is that keyframe.
    """
    return [
        str(ffmpeg.ffprobe),
        "-hide_banner",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        "file",
        "-format_whitelist",
        demuxer,
        "-f",
        demuxer,
        "-codec_whitelist",
        ",".join((decoder_whitelist(), *PROBE_ONLY_DECODERS)),
        "-max_pixels",
        str(ffmpeg.limits.max_pixels),
        "-read_intervals",
        f"{at:.6f}%+#1",
        "-select_streams",
        str(stream),
        "-show_entries",
        "packet=pts_time,flags",
        "-of",
        "csv=p=0",
        "-i",
        file_url(path),
    ]
