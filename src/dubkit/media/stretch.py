"""Time-stretching a clip, pitch kept: Rubber Band when installed, ffmpeg's atempo otherwise."""

from __future__ import annotations

import logging
import math
import os
import shutil
from pathlib import Path
from typing import Literal

import ffmpeg as ffmpeg_python

from dubkit.errors import ConfigError
from dubkit.media.binaries import FFmpeg, default_ffmpeg
from dubkit.media.command import ffmpeg_argv, file_url, media_input
from dubkit.media.process import run_process
from dubkit.media.staging import staged_output

__all__ = [
    "MAX_TEMPO",
    "MIN_TEMPO",
    "StretchEngine",
    "atempo_factors",
    "check_tempo",
    "find_rubberband",
    "stretch",
]

logger = logging.getLogger(__name__)

StretchEngine = Literal["auto", "rubberband", "atempo"]
STRETCH_ENGINES: tuple[StretchEngine, ...] = ("auto", "rubberband", "atempo")

#: Tempo factors dubkit accepts (the fit stage keeps to about 0.85-1.2; this is the hard bound).
MIN_TEMPO = 0.25
MAX_TEMPO = 4.0

_ATEMPO_MIN, _ATEMPO_MAX = 0.5, 2.0


def check_tempo(tempo: float) -> float:
    """``tempo`` if it is a usable factor (finite, within `MIN_TEMPO`-`MAX_TEMPO`).

    Raises:
        ConfigError: It is not.
    """
    if not (math.isfinite(tempo) and MIN_TEMPO <= tempo <= MAX_TEMPO):
        raise ConfigError(f"stretch {tempo!r} is outside {MIN_TEMPO}-{MAX_TEMPO}", field="stretch")
    return tempo


def atempo_factors(tempo: float) -> tuple[float, ...]:
    """Factors within atempo's best range (0.5-2.0) whose product is ``tempo``; ``()`` for 1.0.

    Raises:
        ConfigError: ``tempo`` is not usable (see `check_tempo`).
    """
    remaining = check_tempo(tempo)
    factors: list[float] = []
    while remaining > _ATEMPO_MAX:
        factors.append(_ATEMPO_MAX)
        remaining /= _ATEMPO_MAX
    while remaining < _ATEMPO_MIN:
        factors.append(_ATEMPO_MIN)
        remaining /= _ATEMPO_MIN
    if not math.isclose(remaining, 1.0, abs_tol=1e-9):
        factors.append(remaining)
    return tuple(factors)


def find_rubberband(name: str = "rubberband") -> Path | None:
    """The Rubber Band command-line tool, or ``None`` when it is not installed."""
    found = shutil.which(name)
    return Path(found).absolute() if found else None


def stretch(
    src: Path,
    dst: Path,
    tempo: float,
    *,
    engine: StretchEngine = "auto",
    rubberband: Path | None = None,
    ffmpeg: FFmpeg | None = None,
    cwd: Path | None = None,
) -> Path:
    """Write ``src`` (a WAV) played ``tempo`` times faster, same pitch, to ``dst`` (a WAV).

    Args:
        src: Input WAV.
        dst: Output WAV.
        tempo: 1.25 plays 25% faster (the output lasts 1/1.25 as long).
        engine: ``rubberband`` (better for speech), ``atempo`` (ffmpeg), or ``auto``: Rubber Band when found.
        rubberband: Path of the Rubber Band tool (looked up on PATH when ``None``).
        ffmpeg: The binaries, for atempo and for limits (`default_ffmpeg` when ``None``).
        cwd: Working directory (``dst``'s folder when ``None``).

    Returns:
        ``dst``.

    Raises:
        ConfigError: ``tempo`` or ``engine`` is not usable, or ``engine="rubberband"`` and Rubber Band is
            not installed.
        FFmpegError: The tool failed or timed out.
    """
    check_tempo(tempo)
    if engine not in STRETCH_ENGINES:
        raise ConfigError(f"engine must be one of {STRETCH_ENGINES}, not {engine!r}", field="engine")
    ffmpeg = ffmpeg or default_ffmpeg()
    tool = None if engine == "atempo" else (rubberband or find_rubberband())
    if engine == "rubberband" and tool is None:
        raise ConfigError("Rubber Band is not installed (apt-get install rubberband-cli)", field="engine")
    workdir = cwd or dst.parent
    src_abs = Path(os.path.abspath(src))
    with staged_output(dst) as temp:
        if tool is not None:
            argv = [str(tool), "--quiet", f"--tempo={tempo:.9g}", str(src_abs), os.path.abspath(temp)]
        else:
            audio = media_input(src_abs, "wav", ffmpeg=ffmpeg)
            for factor in atempo_factors(tempo):
                audio = audio.filter("atempo", f"{factor:.9g}")
            output = ffmpeg_python.output(audio, file_url(temp), f="wav", acodec="pcm_f32le")
            argv = ffmpeg_argv(ffmpeg, output)
        run_process(argv, cwd=workdir, limits=ffmpeg.limits, path=src_abs)
    logger.debug("stretched %s by %.3f with %s", src.name, tempo, "rubberband" if tool else "atempo")
    return dst
