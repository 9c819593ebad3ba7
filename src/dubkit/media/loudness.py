"""Loudness (EBU R128 / ITU-R BS.1770) measured with ffmpeg's loudnorm filter, and two-pass normalisation.

Pass one measures (integrated loudness, true peak, loudness range, threshold); pass two applies loudnorm
with those measurements and ``linear=true``, a single gain for the whole track whenever the true-peak
ceiling allows it (loudnorm falls back to its dynamic mode when it does not).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
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
    "LoudnessTarget",
    "measure_loudness",
    "normalize_filter",
    "parse_loudnorm",
    "run_with_loudnorm",
]

logger = logging.getLogger(__name__)

#: Anything quieter counts as silence: there is nothing to normalise.
SILENCE_LUFS = -70.0


@attrs.frozen(slots=True)
class LoudnessTarget:
    """What to normalise to.

    Attributes:
        integrated: Integrated loudness, LUFS (-16 suits online video; -23 is EBU broadcast).
        true_peak: Ceiling for the true peak, dBTP.
        lra: Loudness range target, LU (raised to the measured range so the gain can stay linear).
    """

    integrated: float = -16.0
    true_peak: float = -1.5
    lra: float = 11.0


@attrs.frozen(slots=True)
class Loudness:
    """A loudness measurement.

    Attributes:
        integrated: Integrated loudness, LUFS (``-inf`` for silence).
        true_peak: True peak, dBTP.
        lra: Loudness range, LU.
        threshold: The gating threshold loudnorm used, LUFS.
        offset: loudnorm's target offset, LU.
        normalization: ``linear`` or ``dynamic`` when this came out of a normalising pass, else ``None``.
    """

    integrated: float
    true_peak: float
    lra: float
    threshold: float
    offset: float = 0.0
    normalization: str | None = None

    @property
    def silent(self) -> bool:
        """Whether there is nothing audible to normalise."""
        return not math.isfinite(self.integrated) or self.integrated < SILENCE_LUFS


def _float(document: dict[str, Any], key: str) -> float:
    try:
        return float(document[key])
    except (KeyError, TypeError, ValueError):
        return -math.inf


def parse_loudnorm(stderr: str, *, output: bool = False) -> Loudness:
    """The measurement loudnorm prints (``print_format=json``) at the end of ffmpeg's stderr.

    Args:
        stderr: ffmpeg's stderr (its tail is enough).
        output: Read the ``output_*`` figures (pass two) rather than the ``input_*`` ones.

    Returns:
        The measurement.

    Raises:
        ValueError: No loudnorm JSON in ``stderr``.
    """
    start, end = stderr.rfind("{"), stderr.rfind("}")
    if start < 0 or end < start:
        raise ValueError("no loudnorm measurement in ffmpeg's output")
    document = json.loads(stderr[start : end + 1])
    if not isinstance(document, dict):
        raise ValueError("loudnorm printed something other than an object")
    side = "output" if output else "input"
    kind = document.get("normalization_type")
    return Loudness(
        integrated=_float(document, f"{side}_i"),
        true_peak=_float(document, f"{side}_tp"),
        lra=max(0.0, _float(document, f"{side}_lra")),
        threshold=_float(document, f"{side}_thresh"),
        offset=_float(document, "target_offset") if "target_offset" in document else 0.0,
        normalization=str(kind) if output and kind else None,
    )


def _clamp(value: float, low: float, high: float) -> float:
    return low if not math.isfinite(value) else min(high, max(low, value))


def normalize_filter(target: LoudnessTarget, measured: Loudness) -> dict[str, Any]:
    """The loudnorm options of pass two: the target, pass one's measurements, ``linear=true``."""
    return {
        "I": f"{_clamp(target.integrated, -70.0, -5.0):.2f}",
        "TP": f"{_clamp(target.true_peak, -9.0, 0.0):.2f}",
        "LRA": f"{_clamp(max(target.lra, measured.lra + 0.1), 1.0, 50.0):.2f}",
        "measured_I": f"{_clamp(measured.integrated, -99.0, 0.0):.2f}",
        "measured_TP": f"{_clamp(measured.true_peak, -99.0, 99.0):.2f}",
        "measured_LRA": f"{_clamp(measured.lra, 0.0, 99.0):.2f}",
        "measured_thresh": f"{_clamp(measured.threshold, -99.0, 0.0):.2f}",
        "offset": f"{_clamp(measured.offset, -99.0, 99.0):.2f}",
        "linear": "true",
        "print_format": "json",
    }


def run_with_loudnorm(
    ffmpeg: FFmpeg, stream: Any, *, cwd: Path, feeds: Sequence[Feed] = (), path: Path | None = None
) -> CompletedRun:
    """Run an output whose graph holds ``loudnorm=print_format=json``, keeping enough stderr to parse it."""
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
        ffmpeg: The binaries (:func:`default_ffmpeg` when ``None``).
        cwd: Working directory (the file's folder when ``None``).

    Returns:
        The measurement.

    Raises:
        FFmpegError: ffmpeg failed, timed out, or printed no measurement.
    """
    ffmpeg = ffmpeg or default_ffmpeg()
    source = Path(os.path.abspath(path))
    audio = media_input(source, "wav", ffmpeg=ffmpeg).audio.filter("loudnorm", print_format="json")
    run = run_with_loudnorm(
        ffmpeg, ffmpeg_python.output(audio, "-", f="null"), cwd=cwd or source.parent, path=source
    )
    try:
        return parse_loudnorm(run.stderr_tail)
    except ValueError as exc:
        raise FFmpegError(str(exc), stderr_tail=run.stderr_tail, path=str(source)) from exc
