"""Loudness (EBU R128 / ITU-R BS.1770) measured with ffmpeg's ebur128 filter, and gain-based normalisation.

Measuring uses ``ebur128=peak=true`` (integrated loudness, its gating threshold, loudness range, true
peak): about five times faster than a loudnorm measuring pass, which upsamples to 192 kHz.
`normalize_gain` is the one-gain normalisation with a look-ahead limiter (``alimiter``) only where the
gain would push the true peak over the ceiling. The mix itself measures in numpy from cached per-block
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
    "Gain",
    "Loudness",
    "LoudnessTarget",
    "measure_loudness",
    "normalize_gain",
    "parse_ebur128",
    "run_with_summary",
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
        lra: Loudness range target, LU (informational: a single gain never changes the range).
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


def _clamp(value: float, low: float, high: float) -> float:
    return low if not math.isfinite(value) else min(high, max(low, value))


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


@attrs.frozen(slots=True)
class Gain:
    """How a measured track is brought to a target.

    Attributes:
        db: The linear gain, dB.
        limit: The true-peak ceiling as a linear amplitude when a limiter is needed, else ``None``.
        expected: The loudness the result should measure.
    """

    db: float
    limit: float | None
    expected: Loudness

    def filters(self) -> list[tuple[str, dict[str, Any]]]:
        """Ffmpeg filters (name, options) that apply this gain."""
        out: list[tuple[str, dict[str, Any]]] = [("volume", {"volume": f"{self.db:.3f}dB"})]
        if self.limit is not None:
            out.append(("alimiter", {"limit": f"{self.limit:.6f}", "level": 0, "attack": 5, "release": 50}))
        return out


def normalize_gain(target: LoudnessTarget, measured: Loudness) -> Gain:
    """The single gain that brings ``measured`` to ``target``, with a limiter if the peaks need one."""
    if measured.silent:
        return Gain(0.0, None, measured)
    goal = _clamp(target.integrated, -70.0, -5.0)
    ceiling = _clamp(target.true_peak, -9.0, 0.0)
    db = goal - measured.integrated
    peak = measured.true_peak + db
    limit = 10 ** (ceiling / 20) if math.isfinite(peak) and peak > ceiling else None
    expected = attrs.evolve(
        measured,
        integrated=goal,
        true_peak=min(peak, ceiling) if math.isfinite(peak) else peak,
        threshold=measured.threshold + db,
        normalization="limited" if limit is not None else "linear",
    )
    return Gain(db, limit, expected)


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
