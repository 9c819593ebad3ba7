"""Fundamental frequency (F0) of speech, estimated with YIN in numpy (no new dependency).

`frame_pitches` gives the F0 of every voiced 40 ms frame of a mono signal; `median_pitch` the median
over them. YIN (de Cheveigné and Kawahara, 2002): the cumulative-mean-normalised difference function
of each frame, its first dip under a threshold taken as the period, refined by parabolic interpolation.
Frames much quieter than the loudest part of the signal, or without a clear period, count as unvoiced.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["MAX_F0", "MIN_F0", "frame_pitches", "median_pitch"]

#: The F0 range searched, Hz: low male speech to high female and child speech.
MIN_F0, MAX_F0 = 60.0, 450.0
_FRAME_SECONDS = 0.04
_HOP_SECONDS = 0.01
_THRESHOLD = 0.15
_SILENCE_DB = 35.0  # frames this far under the loudest frames are silence
_BATCH = 512  # frames per FFT batch (bounded memory on long signals)

_Floats = npt.NDArray[np.float64]


def _frames(samples: npt.NDArray[np.floating[Any]], length: int, hop: int) -> _Floats:
    count = 1 + (len(samples) - length) // hop
    if count <= 0:
        return np.zeros((0, length))
    index = np.arange(length)[None, :] + hop * np.arange(count)[:, None]
    frames: _Floats = np.asarray(samples, dtype=np.float64)[index]
    return frames


def _cmndf(frames: _Floats, window: int, max_lag: int) -> _Floats:
    """YIN's cumulative-mean-normalised difference d'(tau) for tau in [0, max_lag], one row per frame."""
    n_fft = 1 << int(np.ceil(np.log2(frames.shape[1] + window)))
    spectrum = np.fft.rfft(frames, n_fft)
    head = np.fft.rfft(frames[:, :window], n_fft)
    acf = np.fft.irfft(spectrum * np.conj(head), n_fft)[:, : max_lag + 1]
    energy = np.cumsum(np.pad(frames**2, ((0, 0), (1, 0))), axis=1)
    lags = np.arange(max_lag + 1)
    shifted = energy[:, lags + window] - energy[:, lags]  # sum of x[j]^2 for j in [tau, tau + window)
    diff = np.maximum(energy[:, window : window + 1] + shifted - 2.0 * acf, 0.0)
    running = np.cumsum(diff[:, 1:], axis=1)
    out = np.ones_like(diff)
    out[:, 1:] = diff[:, 1:] * lags[1:] / np.maximum(running, 1e-12)
    return out


def _periods(cmndf: _Floats, min_lag: int) -> _Floats:
    """The period of each frame in samples (interpolated), NaN where no dip is under the threshold."""
    rows, width = cmndf.shape
    out = np.full(rows, np.nan)
    below = cmndf[:, min_lag:-1] < _THRESHOLD
    has = below.any(axis=1)
    first = np.argmax(below, axis=1) + min_lag
    for row in np.flatnonzero(has):
        tau = int(first[row])
        while tau + 1 < width - 1 and cmndf[row, tau + 1] < cmndf[row, tau]:
            tau += 1  # walk down to the bottom of the dip
        a, b, c = cmndf[row, tau - 1], cmndf[row, tau], cmndf[row, tau + 1]
        curve = a - 2 * b + c
        out[row] = tau + (0.5 * (a - c) / curve if curve > 1e-12 else 0.0)
    return out


def frame_pitches(samples: npt.NDArray[np.floating[Any]], sample_rate: int) -> _Floats:
    """F0 in Hz of every voiced frame (40 ms frames every 10 ms) of a mono signal.

    Args:
        samples: Mono samples, any float scale.
        sample_rate: Hz (8 kHz or more).

    Returns:
        The F0 of each voiced frame, in time order; empty when nothing is voiced.
    """
    window = round(_FRAME_SECONDS * sample_rate)
    hop = round(_HOP_SECONDS * sample_rate)
    min_lag = max(2, int(sample_rate / MAX_F0))
    max_lag = int(np.ceil(sample_rate / MIN_F0))
    signal: _Floats = np.asarray(samples, dtype=np.float64)
    if signal.size:
        signal = signal - signal.mean()
    frames = _frames(signal, window + max_lag + 1, hop)
    if not len(frames):
        return np.zeros(0)
    power = (frames[:, :window] ** 2).mean(axis=1)
    loud = 10 * np.log10(np.maximum(power, 1e-20))
    voiced = loud > np.percentile(loud, 95) - _SILENCE_DB
    candidates = frames[voiced]
    pitches = []
    for start in range(0, len(candidates), _BATCH):
        batch = candidates[start : start + _BATCH]
        pitches.append(_periods(_cmndf(batch, window, max_lag), min_lag))
    periods = np.concatenate(pitches) if pitches else np.zeros(0)
    found = periods[np.isfinite(periods) & (periods > 0)]
    f0 = sample_rate / found
    return f0[(f0 >= MIN_F0) & (f0 <= MAX_F0)]


def median_pitch(
    samples: npt.NDArray[np.floating[Any]], sample_rate: int, *, min_frames: int = 10
) -> float | None:
    """The median F0 in Hz of a mono signal's voiced frames, or ``None`` with fewer than ``min_frames``."""
    pitches = frame_pitches(samples, sample_rate)
    return float(np.median(pitches)) if len(pitches) >= min_frames else None
