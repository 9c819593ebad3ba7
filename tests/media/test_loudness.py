"""Loudness measurement and the loudnorm settings of pass two."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from dubkit.media import FFmpeg, measure_loudness
from dubkit.media.loudness import parse_ebur128

LOG = """[Parsed_ebur128_0 @ 0x55ab103b0400] Summary:

  Integrated loudness:
    I:         -27.6 LUFS
    Threshold: -39.2 LUFS

  Loudness range:
    LRA:        18.1 LU
    Threshold: -49.5 LUFS
    LRA low:   -35.7 LUFS
    LRA high:  -17.6 LUFS

  True peak:
    Peak:       -4.5 dBFS
"""


def test_parse() -> None:
    measured = parse_ebur128("noise before\n" + LOG)
    assert (measured.integrated, measured.true_peak, measured.lra, measured.threshold) == (
        -27.6,
        -4.5,
        18.1,
        -39.2,
    )
    assert measured.normalization is None


def test_parse_silence_and_garbage() -> None:
    silent = parse_ebur128(LOG.replace("-27.6 LUFS", "-70.0 LUFS").replace("-4.5 dBFS", "-inf dBFS"))
    assert silent.silent
    assert math.isinf(silent.integrated)
    with pytest.raises(ValueError):
        parse_ebur128("no summary here")


def test_measure(tmp_path: Path, ffmpeg: FFmpeg, sine_wav: Callable[..., Path]) -> None:
    quiet = measure_loudness(sine_wav("quiet.wav", 1000, 3.0, volume=0.05), ffmpeg=ffmpeg)
    loud = measure_loudness(sine_wav("loud.wav", 1000, 3.0, volume=0.5), ffmpeg=ffmpeg)
    assert loud.integrated - quiet.integrated == pytest.approx(20.0, abs=0.3)
    assert loud.true_peak == pytest.approx(-24.1, abs=0.5)  # lavfi's sine peaks at 1/8, times 0.5
