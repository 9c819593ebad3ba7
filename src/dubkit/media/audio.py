"""Extracting audio: a 16 kHz mono track for analysis and a full-quality track for mixing, in one pass."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import ffmpeg as ffmpeg_python

from dubkit.errors import ConfigError, NoAudioStreamError
from dubkit.media.binaries import FFmpeg, default_ffmpeg
from dubkit.media.command import ffmpeg_argv, file_url, media_input
from dubkit.media.probe import demuxer_of
from dubkit.media.process import run_process
from dubkit.media.staging import staged_output
from dubkit.media.wav import read_wav_info
from dubkit.models.media import ExtractedAudio, MediaInfo

__all__ = ["ANALYSIS_SAMPLE_RATE", "FULL_CODECS", "extract_audio"]

logger = logging.getLogger(__name__)

#: Sample rate of the analysis track (what VAD, diarization and ASR models expect).
ANALYSIS_SAMPLE_RATE = 16_000

#: Codecs the full-quality track may use.
FULL_CODECS = ("pcm_s16le", "pcm_f32le")

# Fill gaps and a late first sample with silence, so that the tracks' time 0 is the container's time 0
# (the instant the video starts too) and times measured on them hold in the muxed result.
_ALIGN = "aresample=async=1:first_pts=0"


def extract_audio(
    info: MediaInfo,
    out_dir: Path,
    *,
    full_codec: str = "pcm_s16le",
    ffmpeg: FFmpeg | None = None,
    cwd: Path | None = None,
) -> ExtractedAudio:
    """Decode the first audio stream into ``analysis.wav`` (16 kHz mono s16) and ``full.wav``.

    The full track keeps the source's sample rate and channel layout. Both are written to temp names and
    renamed into place, so a crash never leaves a half-written track behind.

    Args:
        info: What probe found in the input.
        out_dir: Folder for the two WAV files (created if missing).
        full_codec: ``pcm_s16le`` or ``pcm_f32le`` for the full track.
        ffmpeg: The binaries (`default_ffmpeg` when ``None``).
        cwd: Working directory for ffmpeg (``out_dir`` when ``None``).

    Returns:
        The two tracks.

    Raises:
        ConfigError: ``full_codec`` is not one of `FULL_CODECS`.
        NoAudioStreamError: The input has no audio stream.
        UnsupportedFormatError: ``info`` names a container outside the allow-list.
        FFmpegError: ffmpeg failed or timed out.
    """
    if full_codec not in FULL_CODECS:
        raise ConfigError(f"full_codec must be one of {FULL_CODECS}, not {full_codec!r}", field="full_codec")
    stream = info.primary_audio
    if stream is None:
        raise NoAudioStreamError("the file has no audio stream", path=str(info.path))
    ffmpeg = ffmpeg or default_ffmpeg()
    out_dir.mkdir(parents=True, exist_ok=True)
    analysis_path, full_path = out_dir / "analysis.wav", out_dir / "full.wav"
    source = media_input(info.path, demuxer_of(info), ffmpeg=ffmpeg, codecs=[stream.codec])
    audio = source[str(stream.index)]
    with contextlib.ExitStack() as stack:
        analysis_tmp = stack.enter_context(staged_output(analysis_path))
        full_tmp = stack.enter_context(staged_output(full_path))
        analysis = ffmpeg_python.output(
            audio,
            file_url(analysis_tmp),
            af=f"{_ALIGN},aresample={ANALYSIS_SAMPLE_RATE}",
            ac=1,
            acodec="pcm_s16le",
            f="wav",
            fflags="+bitexact",
        )
        full = ffmpeg_python.output(
            audio, file_url(full_tmp), af=_ALIGN, acodec=full_codec, f="wav", rf64="auto", fflags="+bitexact"
        )
        argv = ffmpeg_argv(ffmpeg, ffmpeg_python.merge_outputs(analysis, full))
        run_process(argv, cwd=cwd or out_dir, limits=ffmpeg.limits, path=info.path)
    result = ExtractedAudio(analysis=read_wav_info(analysis_path), full=read_wav_info(full_path))
    logger.info(
        "extracted %s: analysis %.2f s, full %d Hz x %d",
        info.path.name,
        result.analysis.duration,
        result.full.sample_rate,
        result.full.channels,
    )
    return result
