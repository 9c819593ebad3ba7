"""Loudness measurement and the loudnorm settings of pass two."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pytest

from dubkit.media import FFmpeg, measure_loudness
from dubkit.media.loudness import Loudness, LoudnessTarget, normalize_filter, parse_loudnorm

LOG = """[Parsed_loudnorm_0 @ 0x5]
{
	"input_i" : "-27.61",
	"input_tp" : "-4.47",
	"input_lra" : "18.06",
	"input_thresh" : "-39.20",
	"output_i" : "-16.58",
	"output_tp" : "-1.50",
	"output_lra" : "14.78",
	"output_thresh" : "-27.71",
	"normalization_type" : "dynamic",
	"target_offset" : "0.58"
}
"""


def test_parse() -> None:
    measured = parse_loudnorm(LOG)
    assert (measured.integrated, measured.true_peak, measured.lra, measured.threshold) == (
        -27.61,
        -4.47,
        18.06,
        -39.2,
    )
    assert measured.offset == 0.58 and measured.normalization is None
    applied = parse_loudnorm(LOG, output=True)
    assert (applied.integrated, applied.normalization) == (-16.58, "dynamic")


def test_parse_silence_and_garbage() -> None:
    silent = parse_loudnorm(
        '{"input_i": "-inf", "input_tp": "-inf", "input_lra": "0.00", "input_thresh": "-inf"}'
    )
    assert silent.silent and math.isinf(silent.integrated)
    with pytest.raises(ValueError):
        parse_loudnorm("no json here")


def test_normalize_filter_keeps_the_gain_linear_and_in_range() -> None:
    measured = Loudness(integrated=-30.0, true_peak=-8.0, lra=25.0, threshold=-41.0, offset=0.2)
    options = normalize_filter(LoudnessTarget(-16.0, -1.5, 11.0), measured)
    assert options["linear"] == "true"
    assert float(options["LRA"]) >= 25.0  # never below the measured range, else loudnorm goes dynamic
    assert (options["measured_I"], options["measured_TP"]) == ("-30.00", "-8.00")
    extreme = normalize_filter(
        LoudnessTarget(-99.0, 5.0, 99.0), Loudness(-math.inf, math.inf, 200.0, math.nan)
    )
    assert float(extreme["I"]) == -70.0 and float(extreme["TP"]) == 0.0 and float(extreme["LRA"]) == 50.0
    assert float(extreme["measured_I"]) == -99.0


def test_measure(tmp_path: Path, ffmpeg: FFmpeg, sine_wav: Callable[..., Path]) -> None:
    quiet = measure_loudness(sine_wav("quiet.wav", 1000, 3.0, volume=0.05), ffmpeg=ffmpeg)
    loud = measure_loudness(sine_wav("loud.wav", 1000, 3.0, volume=0.5), ffmpeg=ffmpeg)
    assert loud.integrated - quiet.integrated == pytest.approx(20.0, abs=0.3)
    assert loud.true_peak == pytest.approx(-24.1, abs=0.5)  # lavfi's sine peaks at 1/8, times 0.5
