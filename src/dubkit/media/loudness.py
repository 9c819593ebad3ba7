"""Loudness (EBU R128 / ITU-R BS.1770) measured with ffmpeg's ebur128 filter.

Measuring uses ``ebur128=peak=true`` (integrated loudness, its gating threshold, loudness range, true
peak): about five times faster than a loudnorm measuring pass, which upsamples to 192 kHz.
The mix itself measures in numpy from cached per-block
statistics (`dubkit.media.meter`, `dubkit.media.blockmix`); this module is the ffmpeg reference it is
tested against, and measures files.
"""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path
from typing import Any

import attrs
import ffmpeg as ffmpeg_python

from dubkit.errors import FFmpegError
from dubkit.media.binaries import FFmpeg, default_ffmpeg
from dubkit.media.command import ffmpeg_argv, media_input
from dubkit.media.process import CompletedRun, Feed, run_process

__all__ = [
    "SILENCE_LUFS",
    "Loudness",
    "measure_loudness",
    "parse_ebur128",
    "run_with_summary",
]

logger = logging.getLogger(__name__)

#: Anything quieter counts as silence: there is nothing to normalise.
SILENCE_LUFS = -70.0


@attrs.frozen(slots=True)
class Loudness:
    """A loudness measurement.

    Attributes:
        integrated: Integrated loudness, LUFS (``-inf`` for silence).
        true_peak: True peak, dBTP.
        lra: Loudness range, LU.
        threshold: The gating threshold of the integrated measurement, LUFS.
        normalization: ``linear`` or ``limited`` when this describes a normalised result, else ``None``.
    """

    integrated: float
    true_peak: float
    lra: float
    threshold: float
    normalization: str | None = None

    @property
    def silent(self) -> bool:
        """Whether there is nothing audible to normalise."""
        return not math.isfinite(self.integrated) or self.integrated < SILENCE_LUFS


_SUMMARY_VALUE = r"(-?inf|nan|-?\d+(?:\.\d+)?)"


def _value(summary: str, label: str) -> float:
    match = re.search(rf"{label}:\s*{_SUMMARY_VALUE}", summary)
    return float(match.group(1)) if match else -math.inf


def parse_ebur128(stderr: str) -> Loudness:
    """The summary ``ebur128`` prints at the end of ffmpeg's stderr.

    Args:
        stderr: ffmpeg's stderr (its tail is enough).

    Returns:
        The measurement (``-inf`` integrated loudness for silence).

    Raises:
        ValueError: No ebur128 summary in ``stderr``.
    """
    at = stderr.rfind("Summary:")
    if at < 0:
        raise ValueError("no ebur128 summary in ffmpeg's output")
    summary = stderr[at:]
    integrated_block, _, rest = summary.partition("Loudness range:")
    integrated = _value(integrated_block, "I")
    if integrated <= SILENCE_LUFS:
        integrated = -math.inf
    return Loudness(
        integrated=integrated,
        true_peak=_value(rest, "Peak"),
        lra=max(0.0, _value(rest, "LRA")),
        threshold=_value(integrated_block, "Threshold"),
    )


def run_with_summary(
    ffmpeg: FFmpeg,
    stream: Any,
    *,
    cwd: Path,
    feeds: tuple[Feed, ...] | list[Feed] = (),
    path: Path | None = None,
) -> CompletedRun:
    """Run an output whose graph holds ``ebur128``, keeping enough stderr to read its summary."""
    limits = attrs.evolve(ffmpeg.limits, stderr_lines=max(ffmpeg.limits.stderr_lines, 60))
    return run_process(
        ffmpeg_argv(ffmpeg, stream, loglevel="info"), cwd=cwd, limits=limits, feeds=feeds, path=path
    )


def measure_loudness(
    path: os.PathLike[str] | str, *, ffmpeg: FFmpeg | None = None, cwd: Path | None = None
) -> Loudness:
    """Measure a WAV file's integrated loudness, true peak and loudness range.

    Args:
        path: A WAV file (one dubkit wrote).
        ffmpeg: The binaries (`default_ffmpeg` when ``None``).
        cwd: Working directory (the file's folder when ``None``).

    Returns:
        The measurement.

    Raises:
        FFmpegError: ffmpeg failed, timed out, or printed no measurement.
    """
    ffmpeg = ffmpeg or default_ffmpeg()
    source = Path(os.path.abspath(path))
    audio = media_input(source, "wav", ffmpeg=ffmpeg).audio.filter("ebur128", peak="true", framelog="verbose")
    run = run_with_summary(
        ffmpeg, ffmpeg_python.output(audio, "-", f="null"), cwd=cwd or source.parent, path=source
    )
    try:
        return parse_ebur128(run.stderr_tail)
    except ValueError as exc:
        raise FFmpegError(str(exc), stderr_tail=run.stderr_tail, path=str(source)) from exc
