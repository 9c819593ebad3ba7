"""A short stretch of one audio track as a small WAV, for listening to one line (no video is touched).

The track is decoded from ``start`` (an input seek, then an exact output trim) to ``end``, mixed down to
mono and resampled to at most `LINE_AUDIO_RATE`, as 16-bit PCM: a browser plays it anywhere, and a line of
`MAX_LINE_AUDIO_SECONDS` is under 3 MB.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

import ffmpeg as ffmpeg_python

from dubkit.errors import ConfigError, NoAudioStreamError
from dubkit.media.binaries import FFmpeg, default_ffmpeg
from dubkit.media.command import ffmpeg_argv, file_url, media_input
from dubkit.media.limits import MediaLimits
from dubkit.media.probe import demuxer_of, probe
from dubkit.media.process import run_process
from dubkit.media.staging import staged_output

__all__ = ["LINE_AUDIO_RATE", "MAX_LINE_AUDIO_SECONDS", "cut_line_audio"]

logger = logging.getLogger(__name__)

#: The highest sample rate of a line's clip (speech needs no more).
LINE_AUDIO_RATE = 24_000
#: The longest clip cut.
MAX_LINE_AUDIO_SECONDS = 60.0


def cut_line_audio(
    path: os.PathLike[str] | str,
    start: float,
    end: float,
    out_path: Path,
    *,
    audio_index: int = 0,
    ffmpeg: FFmpeg | None = None,
    cwd: Path | None = None,
    limits: MediaLimits | None = None,
) -> Path:
    """Decode ``[start, end]`` of one audio track of ``path`` into a mono WAV at ``out_path``.

    Args:
        path: A media file (an input dubkit accepted, or a result it wrote).
        start: Seconds (cut to the media's start).
        end: Seconds (cut to the media's end); at most `MAX_LINE_AUDIO_SECONDS` after ``start``.
        out_path: The WAV to write (written to a temp name, then renamed).
        audio_index: Which audio track, in file order (0: the first; a dubkit result's dub).
        ffmpeg: The binaries (`default_ffmpeg` when ``None``).
        cwd: Working directory (``out_path``'s folder when ``None``).
        limits: What the file may be (default `MediaLimits()`).

    Returns:
        ``out_path``.

    Raises:
        ConfigError: A bad range, or one that starts past the media's end.
        NoAudioStreamError: The file has no such audio track.
        MediaError: The file is not acceptable media (as for `dubkit.media.probe`).
        FFmpegError: ffmpeg failed or timed out.
    """
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        raise ConfigError(f"need a finite start before the end, got {start!r}..{end!r}", field="end")
    if end - start > MAX_LINE_AUDIO_SECONDS + 1e-6:
        raise ConfigError(f"a clip lasts at most {MAX_LINE_AUDIO_SECONDS:g} s", field="end")
    ffmpeg = ffmpeg or default_ffmpeg()
    out_path = Path(os.path.abspath(out_path))
    workdir = cwd or out_path.parent
    workdir.mkdir(parents=True, exist_ok=True)
    info = probe(path, limits or MediaLimits(), ffmpeg=ffmpeg, require_audio=False, verify=False, cwd=workdir)
    tracks = info.audio_streams
    if not 0 <= audio_index < len(tracks):
        raise NoAudioStreamError(f"the file has no audio track {audio_index}", path=str(info.path))
    begin = max(0.0, start)
    if begin >= info.duration:
        raise ConfigError(
            f"the clip starts at {begin:g} s, past the end ({info.duration:.3f} s)", field="start"
        )
    finish = min(end, info.duration)
    stream = tracks[audio_index]
    rate = min(stream.sample_rate or LINE_AUDIO_RATE, LINE_AUDIO_RATE)
    source = media_input(
        info.path,
        demuxer_of(info),
        ffmpeg=ffmpeg,
        codecs=[stream.codec],
        ss=f"{begin:.6f}",
        t=f"{finish - begin:.6f}",
    )
    with staged_output(out_path) as temp:
        output = ffmpeg_python.output(
            source[str(stream.index)],
            file_url(temp),
            ac=1,
            ar=rate,
            acodec="pcm_s16le",
            f="wav",
            fflags="+bitexact",
        )
        run_process(ffmpeg_argv(ffmpeg, output), cwd=workdir, limits=ffmpeg.limits, path=info.path)
    logger.debug("line audio %.2f-%.2f s of %s (track %d)", begin, finish, info.path.name, audio_index)
    return out_path
