"""Rendering a clip to the track's format in numpy: upsampling by a whole factor and mono upmixing.

Synthesised clips are mono at 16, 22.05 or 24 kHz and tracks are usually 44.1 or 48 kHz: most renders
are a whole-factor upsampling (22.05 -> 44.1 kHz is 2x). Doing those in numpy (a Kaiser-windowed sinc,
polyphase) avoids an ffmpeg run per batch of clips. The upmix is ffmpeg's default matrix, so a clip
sounds the same whichever way it was rendered: a mono clip goes to the centre of a layout that has one,
and to left and right at -3 dB in stereo. Anything else (other ratios, stretched clips without Rubber
Band, layouts without a known matrix) is left to ffmpeg.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

from dubkit.media.meter import layout_channels

__all__ = ["mono_upmix", "upsample"]

_HALF_WIDTH = 16  # input samples on each side of an output sample
_CUTOFF = 0.97  # of the input's Nyquist frequency (ffmpeg's swresample default)
_BETA = 9.0  # Kaiser window


@functools.lru_cache(maxsize=8)
def _phases(factor: int) -> npt.NDArray[np.float64]:
    """``factor`` polyphase filters of ``2 * _HALF_WIDTH`` taps each (row = output phase)."""
    taps = np.arange(-_HALF_WIDTH * factor, _HALF_WIDTH * factor + 1, dtype=np.float64)
    x = taps / factor
    kernel = _CUTOFF * np.sinc(_CUTOFF * x) * np.kaiser(len(taps), _BETA)
    centre = _HALF_WIDTH * factor
    bank = np.zeros((factor, 2 * _HALF_WIDTH), dtype=np.float64)
    for phase in range(factor):
        # Output frame q * factor + phase takes input i with weight kernel[(q - i) * factor + phase + centre].
        for k in range(-_HALF_WIDTH + 1, _HALF_WIDTH + 1):
            index = k * factor + phase + centre
            if 0 <= index < len(kernel):
                bank[phase, k + _HALF_WIDTH - 1] = kernel[index]
    return bank


def upsample(samples: npt.NDArray[np.float32], factor: int) -> npt.NDArray[np.float32]:
    """A mono signal at ``factor`` times its rate (``factor`` >= 1), band-limited to its old Nyquist."""
    if factor == 1:
        return np.asarray(samples, dtype=np.float32)
    bank = _phases(factor)
    padded = np.concatenate(
        [np.zeros(_HALF_WIDTH, np.float64), samples.astype(np.float64), np.zeros(_HALF_WIDTH, np.float64)]
    )
    out = np.empty((len(samples), factor), dtype=np.float64)
    for phase in range(factor):
        # bank[phase, j] weighs input i = q - (j - _HALF_WIDTH + 1): a correlation over the padded input.
        full = np.convolve(padded, bank[phase])
        out[:, phase] = full[2 * _HALF_WIDTH - 1 : 2 * _HALF_WIDTH - 1 + len(samples)]
    return out.reshape(-1).astype(np.float32)


def mono_upmix(channels: int, layout: str | None) -> npt.NDArray[np.float32] | None:
    """The gain of a mono clip in each channel of a track (ffmpeg's matrix), or ``None`` if unknown."""
    if channels == 1:
        return np.ones(1, dtype=np.float32)
    names = layout_channels(channels, layout)
    if names is None:
        return None
    if "FC" in names:
        return np.array([1.0 if n == "FC" else 0.0 for n in names], dtype=np.float32)
    if "FL" in names and "FR" in names:
        half = math.sqrt(0.5)
        return np.array([half if n in ("FL", "FR") else 0.0 for n in names], dtype=np.float32)
    return None
