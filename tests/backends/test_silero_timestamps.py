"""The port of silero's get_speech_timestamps_from_probs against the package's own function."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")
utils_vad = pytest.importorskip("silero_vad.utils_vad")

from dubkit.backends.silero_timestamps import speech_timestamps


def probabilities(seed: int, count: int = 3000) -> list[float]:
    """Smoothed random speech/pause stretches of various lengths, with jitter around the thresholds."""
    rng = np.random.default_rng(seed)
    values: list[float] = []
    while len(values) < count:
        level = rng.choice([0.05, 0.4, 0.45, 0.55, 0.9])
        values.extend(np.clip(level + rng.normal(0, 0.12, int(rng.integers(1, 120))), 0, 1).tolist())
    return values[:count]


CASES = [
    {},
    {"threshold": 0.6, "neg_threshold": 0.3},
    {"min_speech_ms": 0, "min_silence_ms": 0, "speech_pad_ms": 0},
    {"min_silence_ms": 500, "speech_pad_ms": 200},
    {"max_speech_s": 3.0},
    {"max_speech_s": 1.0, "min_silence_ms": 300},
]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("options", CASES)
@pytest.mark.parametrize("rate", [16000, 8000])
def test_same_regions_as_silero(seed: int, options: dict[str, float], rate: int) -> None:
    probs = probabilities(seed)
    window = 512 if rate == 16000 else 256
    length = len(probs) * window - 100
    expected = utils_vad.get_speech_timestamps_from_probs(
        probs,
        sampling_rate=rate,
        threshold=options.get("threshold", 0.5),
        neg_threshold=options.get("neg_threshold"),
        min_speech_duration_ms=options.get("min_speech_ms", 250),
        max_speech_duration_s=options.get("max_speech_s", math.inf),
        min_silence_duration_ms=options.get("min_silence_ms", 100),
        speech_pad_ms=options.get("speech_pad_ms", 30),
        audio_length_samples=length,
    )
    got = speech_timestamps(probs, sampling_rate=rate, audio_length_samples=length, **options)
    assert expected  # the case says something
    assert got == [(stamp["start"], stamp["end"]) for stamp in expected]


def test_no_probabilities_no_regions() -> None:
    assert speech_timestamps([]) == []
    assert speech_timestamps([0.9] * 3, audio_length_samples=1536) == []  # 96 ms: under min_speech_ms
