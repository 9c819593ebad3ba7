"""Muxing the result: the input's video copied packet for packet, the dub, the original audio, subtitles.

The video stream is never re-encoded (``-c:v copy``). The dubbed track is encoded to AAC block by block
(in parallel, cached: `dubkit.media.aacblocks`) and copied in; it is the default audio track. The original
audio follows, copied when MP4 can carry its codec. Target- and source-language
subtitles become mov_text tracks. Every track is language-tagged (ISO 639-2). Audio-only input gives an
M4A. The index goes to the front (``+faststart``) so players can start before the download ends.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import ffmpeg as ffmpeg_python

from dubkit.errors import UnsupportedFormatError
from dubkit.media.binaries import FFmpeg, default_ffmpeg
from dubkit.media.command import ffmpeg_argv, file_url, media_input
from dubkit.media.formats import M4A_COPY_AUDIO_CODECS, MP4_COPY_AUDIO_CODECS, MP4_VIDEO_CODECS
from dubkit.media.probe import demuxer_of
from dubkit.media.process import run_process
from dubkit.media.staging import staged_output
from dubkit.media.subtitles import clean_cues, write_subtitles
from dubkit.models.languages import get_language
from dubkit.models.media import AudioFile, MediaInfo, SubtitleCue

__all__ = ["aac_bitrate", "language_tag", "mux"]

logger = logging.getLogger(__name__)


def language_tag(code: str) -> str:
    """The ISO 639-2 tag MP4 wants for an ISO 639-1 (or 639-3) code: ``es`` -> ``spa``; ``und`` stays.

    Raises:
        UnknownLanguageError: The code is not in dubkit's language table.
    """
    if code.strip().lower() in ("und", "auto", ""):
        return "und"
    return get_language(code).iso639_3


def aac_bitrate(channels: int) -> str:
    """AAC bitrate for a channel count: 64 kb/s a channel, 128 to 512 kb/s."""
    return f"{min(512, max(128, 64 * channels))}k"


def _audio_options(tracks: Sequence[tuple[Any, str, str, str]], options: dict[str, Any]) -> list[Any]:
    """Set each audio track's codec, bitrate, language and disposition; the streams in order."""
    streams = []
    for number, (stream, tag, codec, bitrate) in enumerate(tracks):
        streams.append(stream)
        options[f"c:a:{number}"] = codec
        if codec != "copy":
            options[f"b:a:{number}"] = bitrate
            # ffmpeg's "fast" AAC coder is 2.5x quicker than the default two-loop search and
            # indistinguishable on speech at these bitrates.
            options[f"aac_coder:a:{number}"] = "fast"
        options[f"metadata:s:a:{number}"] = f"language={tag}"
        options[f"disposition:a:{number}"] = "default" if number == 0 else "0"
    return streams


def mux(
    info: MediaInfo,
    dubbed: AudioFile,
    *,
    original_audio_from_input: bool = True,
    cues_target: Sequence[SubtitleCue] = (),
    cues_source: Sequence[SubtitleCue] = (),
    target_language: str,
    source_language: str,
    out_path: Path,
    ffmpeg: FFmpeg | None = None,
    cwd: Path | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """Write the dubbed MP4 (or M4A for audio-only input).

    Args:
        info: The probed input, whose video (and original audio) is carried over.
        dubbed: The dubbed track (a WAV from `dubkit.media.mix`).
        original_audio_from_input: Add the input's own audio as a second track.
        cues_target: Subtitles in the target language (empty: no track).
        cues_source: Subtitles in the source language (empty: no track).
        target_language: ISO 639-1 code of the dub (``es``).
        source_language: ISO 639-1 code of the original (``en``).
        out_path: The file to write; for audio-only input its suffix becomes ``.m4a``.
        ffmpeg: The binaries (`default_ffmpeg` when ``None``).
        cwd: Working directory and home of temp files (``out_path``'s folder when ``None``).
        cache_dir: Where the dub's encoded AAC blocks are kept for later muxes (after an edit only the
            blocks whose audio changed are encoded again); ``None``: a temp folder.

    Returns:
        The path written.

    Raises:
        UnknownLanguageError: A language code dubkit does not know.
        UnsupportedFormatError: The video codec cannot be carried in MP4 without re-encoding.
        FFmpegError: ffmpeg failed or timed out.
    """
    ffmpeg = ffmpeg or default_ffmpeg()
    target_tag, source_tag = language_tag(target_language), language_tag(source_language)
    video = info.video_streams[0] if info.video_streams else None
    if video is not None and video.codec not in MP4_VIDEO_CODECS:
        raise UnsupportedFormatError(
            f"video codec {video.codec!r} cannot be copied into MP4", path=str(info.path), format_name="mp4"
        )
    muxer, copyable = ("mp4", MP4_COPY_AUDIO_CODECS) if video else ("ipod", M4A_COPY_AUDIO_CODECS)
    out_path = Path(os.path.abspath(out_path))
    if video is None and out_path.suffix.lower() != ".m4a":
        out_path = out_path.with_suffix(".m4a")
    workdir = cwd or out_path.parent
    workdir.mkdir(parents=True, exist_ok=True)
    original = info.primary_audio if original_audio_from_input else None
    codecs = [s.codec for s in (video, original) if s is not None]
    source = media_input(info.path, demuxer_of(info), ffmpeg=ffmpeg, codecs=codecs)
    streams: list[Any] = []
    options: dict[str, Any] = {
        "f": muxer,
        "movflags": "+faststart",
        "map_metadata": "-1",
        "map_chapters": "-1",
    }
    if video is not None:
        streams.append(source[str(video.index)])
        options["c:v"] = "copy"
        if video.codec == "hevc":
            options["tag:v"] = "hvc1"
    audio_tracks: list[tuple[Any, str, str, str]] = []
    from dubkit.media.aacblocks import PRIMING, encode_blocks  # numpy: loaded when muxing, not with media

    with tempfile.TemporaryDirectory(prefix=".mux-", dir=workdir) as temp_name:
        temp = Path(temp_name)
        # The dub lasts exactly as long as the input: silence past the dub's end, nothing past the input's.
        encoded = encode_blocks(
            dubbed.path,
            temp / "dub.aac",
            total_frames=round(info.duration * dubbed.sample_rate),
            layout=dubbed.channel_layout,
            bitrate=aac_bitrate(dubbed.channels),
            cache=cache_dir or temp / "cache",
            temp=temp,
            ffmpeg=ffmpeg,
            cwd=workdir,
        )
        # The edit list skips the encoder's priming, so the dub starts at the video's first frame.
        dub = media_input(
            encoded.path,
            "aac",
            ffmpeg=ffmpeg,
            codecs=["aac"],
            itsoffset=f"{-PRIMING / encoded.sample_rate:.9f}",
        )
        audio_tracks.append((dub["a:0"], target_tag, "copy", ""))
        if original is not None:
            codec = "copy" if original.codec in copyable else "aac"
            audio_tracks.append(
                (source[str(original.index)], source_tag, codec, aac_bitrate(original.channels or 2))
            )
        streams += _audio_options(audio_tracks, options)
        subtitle_tracks = [
            (cues, tag, temp / f"{kind}.srt")
            for kind, cues, tag in (("target", cues_target, target_tag), ("source", cues_source, source_tag))
            if clean_cues(cues, duration=info.duration)
        ]
        for number, (cues, tag, srt) in enumerate(subtitle_tracks):
            write_subtitles(clean_cues(cues, duration=info.duration), srt)
            streams.append(media_input(srt, "srt", ffmpeg=ffmpeg, codecs=["subrip"])["s:0"])
            options[f"metadata:s:s:{number}"] = f"language={tag}"
            options[f"disposition:s:{number}"] = "0"
        if subtitle_tracks:
            options["c:s"] = "mov_text"
        with staged_output(out_path) as temp_out:
            argv = ffmpeg_argv(ffmpeg, ffmpeg_python.output(*streams, file_url(temp_out), **options))
            run_process(argv, cwd=workdir, limits=ffmpeg.limits, path=info.path)
    logger.info(
        "muxed %s: video %s, %d audio and %d subtitle tracks",
        out_path.name,
        "copied" if video else "none",
        len(audio_tracks),
        len(subtitle_tracks),
    )
    return out_path
