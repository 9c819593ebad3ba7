"""Integrated loudness (ITU-R BS.1770-4 / EBU R128) measured in numpy, streamed and combinable by parts.

The signal is K-weighted (the standard's high-shelf and high-pass biquads, derived for any sample rate),
squared and summed per channel with the standard's weights into *gating sums*: one energy per 100 ms step
of a grid that starts at frame 0 of the track. A 400 ms gating block is four consecutive steps (75%
overlap), so sums measured separately on parts of a track (each part's filter warmed on a little audio
before it) add up to the sums of the whole track, and the integrated loudness follows from them with the
absolute (-70 LUFS) and relative (-10 LU) gates. That is what lets the mix cache each block's statistics
and re-measure only the blocks an edit touched. Agrees with ffmpeg's ``ebur128`` within 0.1 LU.

The filters run as an FIR of their impulse response, applied by FFT convolution in numpy (see `_KFilter`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import attrs
import numpy as np
import numpy.typing as npt

__all__ = [
    "GatingSums",
    "combine",
    "LoudnessMeter",
    "channel_weights",
    "integrated_loudness",
    "k_weighting",
    "layout_channels",
    "measure_samples",
]

_Floats = npt.NDArray[np.float64]

#: Seconds per step of the gating grid (the standard's 75% overlap of 400 ms blocks).
STEP_SECONDS = 0.1
_STEPS_PER_BLOCK = 4
_ABSOLUTE_GATE = -70.0
_RELATIVE_GATE = -10.0
_OFFSET = -0.691
_FFT_BATCH = 32

# Surround channels weigh 1.41 (+1.5 dB); the LFE channel is left out (BS.1770-4, table 3).
_SURROUND = {"BL", "BR", "SL", "SR", "BC"}
_LAYOUT_CHANNELS = {
    "mono": ("FC",),
    "stereo": ("FL", "FR"),
    "2.1": ("FL", "FR", "LFE"),
    "3.0": ("FL", "FR", "FC"),
    "3.0(back)": ("FL", "FR", "BC"),
    "quad": ("FL", "FR", "BL", "BR"),
    "quad(side)": ("FL", "FR", "SL", "SR"),
    "5.0(back)": ("FL", "FR", "FC", "BL", "BR"),
    "5.0": ("FL", "FR", "FC", "SL", "SR"),
    "5.1": ("FL", "FR", "FC", "LFE", "BL", "BR"),
    "5.1(side)": ("FL", "FR", "FC", "LFE", "SL", "SR"),
    "6.1(back)": ("FL", "FR", "FC", "LFE", "BL", "BR", "BC"),
    "6.1": ("FL", "FR", "FC", "LFE", "BC", "SL", "SR"),
    "7.1": ("FL", "FR", "FC", "LFE", "BL", "BR", "SL", "SR"),
    "7.1(wide)": ("FL", "FR", "FC", "LFE", "BL", "BR", "FLC", "FRC"),
}


def layout_channels(channels: int, layout: str | None) -> tuple[str, ...] | None:
    """The channels of a layout in order (ffmpeg's names: ``FL``, ``FR``, ``FC``, ...), if known."""
    names = _LAYOUT_CHANNELS.get(layout or "")
    return names if names is not None and len(names) == channels else None


def channel_weights(channels: int, layout: str | None) -> tuple[float, ...]:
    """BS.1770 weight of each channel of a layout (ffmpeg's names); 1.0 each for unknown layouts."""
    names = layout_channels(channels, layout)
    if names is None:
        return (1.0,) * channels
    return tuple(0.0 if n == "LFE" else 1.41 if n in _SURROUND else 1.0 for n in names)


def k_weighting(sample_rate: int) -> npt.NDArray[np.float64]:
    """The K-weighting filter as second-order sections (``sosfilt`` layout: 2 rows of b0 b1 b2 a0 a1 a2).

    The standard gives coefficients for 48 kHz; these are the analogue prototypes' bilinear transforms at
    ``sample_rate`` (as libebur128 derives them), identical at 48 kHz.
    """
    # Stage 1: the head's high shelf (+4 dB above ~1.7 kHz).
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / sample_rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = [
        (vh + vb * k / q + k * k) / a0,
        2 * (k * k - vh) / a0,
        (vh - vb * k / q + k * k) / a0,
        1.0,
        2 * (k * k - 1) / a0,
        (1 - k / q + k * k) / a0,
    ]
    # Stage 2: the RLB high-pass (~38 Hz).
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / sample_rate)
    a0 = 1 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0]
    return np.array([shelf, highpass], dtype=np.float64)


@functools.lru_cache(maxsize=8)
def _k_spectrum(sample_rate: int, taps: int, n_fft: int) -> npt.NDArray[np.complex64]:
    """The spectrum of the K-weighting's impulse response, truncated to ``taps`` (cached per rate)."""
    response = _impulse_response(k_weighting(sample_rate), taps)
    spectrum: npt.NDArray[np.complex64] = np.fft.rfft(response, n_fft).astype(np.complex64)
    spectrum.setflags(write=False)
    return spectrum


def _impulse_response(sos: npt.NDArray[np.float64], length: int) -> _Floats:
    """The cascade's impulse response (a plain recurrence: ``length`` is a few thousand at most)."""
    signal = [0.0] * length
    signal[0] = 1.0
    for b0, b1, b2, _, a1, a2 in sos.tolist():
        x1 = x2 = y1 = y2 = 0.0
        out = [0.0] * length
        for n, x in enumerate(signal):
            y = b0 * x + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2
            x2, x1, y2, y1 = x1, x, y1, y
            out[n] = y
        signal = out
    return np.asarray(signal, dtype=np.float64)


class _KFilter:
    """Streaming K-weighting: the filters' truncated impulse response applied by FFT convolution.

    An FIR of the IIR cascade's first ~80 ms (the high-pass's slowest mode has decayed by e^-19 by then)
    matches ``sosfilt`` within 2e-7 and runs in numpy on whole arrays: about 0.4 s for ten minutes of
    stereo, with no scipy (whose ``signal`` package alone takes about a second to import).
    """

    def __init__(self, sample_rate: int, channels: int) -> None:
        taps = 1 << max(6, math.ceil(math.log2(0.08 * sample_rate)))
        self.taps = taps
        self._n_fft = 4 * taps
        self._segment = self._n_fft - taps + 1
        self._spectrum = _k_spectrum(sample_rate, taps, self._n_fft)
        self._history = np.zeros((channels, taps - 1), dtype=np.float32)

    def __call__(self, x: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        frames, channels = x.shape
        taps, segment = self.taps, self._segment
        count = -(-frames // segment)
        out = np.empty((frames, channels), dtype=np.float32)
        for channel in range(channels):
            padded = np.zeros(count * segment + taps - 1, dtype=np.float32)
            padded[: taps - 1] = self._history[channel]
            padded[taps - 1 : taps - 1 + frames] = x[:, channel]
            filtered = out[:, channel]
            for first in range(0, count, _FFT_BATCH):  # a few MB at a time: cache-friendly, no page storms
                rows = min(_FFT_BATCH, count - first)
                pieces = np.lib.stride_tricks.as_strided(
                    padded[first * segment :],
                    shape=(rows, segment + taps - 1),
                    strides=(segment * 4, 4),
                    writeable=False,
                )
                spectra = np.fft.rfft(pieces, self._n_fft, axis=1)
                spectra *= self._spectrum
                result = np.fft.irfft(spectra, self._n_fft, axis=1)[:, taps - 1 :].reshape(-1)
                start = first * segment
                filtered[start : start + len(result)] = result[: frames - start]
            self._history[channel] = padded[frames : frames + taps - 1]
        return out


def step_frame(step: int, sample_rate: int) -> int:
    """First frame of a step of the gating grid."""
    return step * sample_rate // 10


def _step_of(frame: int, sample_rate: int) -> int:
    """The step holding ``frame``."""
    step = frame * 10 // sample_rate
    while step_frame(step + 1, sample_rate) <= frame:
        step += 1
    while step_frame(step, sample_rate) > frame:
        step -= 1
    return step


@attrs.frozen(slots=True, eq=False)
class GatingSums:
    """Weighted K-filtered energy per step of the 100 ms gating grid, for a run of steps.

    Attributes:
        first: The first step.
        sums: Energy of each step from ``first`` on (sum over frames of the weighted channel squares);
            a step cut by the edge of a part holds only that part's share.
        peak: Largest absolute sample value seen (not K-weighted).
    """

    first: int
    sums: _Floats
    peak: float = 0.0


def combine(parts: Iterable[GatingSums]) -> GatingSums:
    """Add the sums of parts of one track (shares of a step cut between two parts add up)."""
    parts = list(parts)
    if not parts:
        return GatingSums(0, np.zeros(0))
    first = min(p.first for p in parts)
    last = max(p.first + len(p.sums) for p in parts)
    total = np.zeros(last - first, dtype=np.float64)
    for part in parts:
        total[part.first - first : part.first - first + len(part.sums)] += part.sums
    return GatingSums(first, total, max(p.peak for p in parts))


def integrated_loudness(sums: GatingSums, sample_rate: int, total_frames: int) -> float:
    """Integrated loudness, LUFS, of a track whose gating sums (from step 0) are given; ``-inf`` if silent.

    Only whole 400 ms blocks inside ``total_frames`` are gated.
    """
    steps = np.zeros(max(0, _step_of(total_frames, sample_rate) + 1), dtype=np.float64)
    usable = sums.sums[: max(0, len(steps) - sums.first)]
    steps[sums.first : sums.first + len(usable)] = usable
    blocks = len(steps) - _STEPS_PER_BLOCK + 1
    if blocks <= 0:
        return -math.inf
    starts = np.array([step_frame(j, sample_rate) for j in range(blocks + _STEPS_PER_BLOCK)])
    ends = starts[_STEPS_PER_BLOCK : _STEPS_PER_BLOCK + blocks]
    keep = ends <= total_frames
    window = np.convolve(steps, np.ones(_STEPS_PER_BLOCK), mode="valid")[:blocks][keep]
    lengths = (ends - starts[:blocks])[keep]
    if not len(window):
        return -math.inf
    energy = window / lengths
    with np.errstate(divide="ignore"):
        loudness = _OFFSET + 10 * np.log10(energy)
    gated = energy[loudness > _ABSOLUTE_GATE]
    if not len(gated):
        return -math.inf
    relative = _OFFSET + 10 * math.log10(float(gated.mean())) + _RELATIVE_GATE
    final = energy[(loudness > _ABSOLUTE_GATE) & (loudness > relative)]
    if not len(final):
        return -math.inf
    return _OFFSET + 10 * math.log10(float(final.mean()))


class LoudnessMeter:
    """Streams audio of one track (or a part of it) into gating sums.

    Args:
        sample_rate: Hz.
        channels: Channel count.
        layout: ffmpeg's layout name (for the channel weights), or ``None``.
        start_frame: The track frame of the first sample that will be added.
    """

    def __init__(
        self,
        sample_rate: int,
        channels: int,
        layout: str | None = None,
        *,
        start_frame: int = 0,
    ) -> None:
        self.sample_rate = sample_rate
        self._weights = channel_weights(channels, layout)
        self._filter = _KFilter(sample_rate, channels)
        self._position = start_frame
        self._first: int | None = None
        self._sums: list[float] = []
        self._peak = 0.0

    def warm(self, samples: npt.NDArray[np.floating[Any]]) -> None:
        """Run audio that comes before the measured part through the filter only (not counted).

        The filter remembers exactly its last ``taps - 1`` input frames, so only those are used.
        """
        recent = samples[-(self._filter.taps - 1) :]
        if len(recent):
            self._filter(recent)

    def add(self, samples: npt.NDArray[np.floating[Any]]) -> None:
        """Measure the next frames (shape ``(frames, channels)``)."""
        frames = len(samples)
        if not frames:
            return
        filtered = self._filter(samples)
        np.square(filtered, out=filtered)
        weighted = filtered[:, 0] * self._weights[0]
        for channel in range(1, filtered.shape[1]):
            weighted += filtered[:, channel] * self._weights[channel]
        self._peak = max(self._peak, float(np.max(np.abs(samples))))
        first_step = _step_of(self._position, self.sample_rate)
        last_step = _step_of(self._position + frames - 1, self.sample_rate)
        if self._first is None:
            self._first = first_step
        bounds = [
            max(0, step_frame(step, self.sample_rate) - self._position)
            for step in range(first_step, last_step + 1)
        ]
        totals = np.add.reduceat(weighted.astype(np.float64), bounds)
        offset = first_step - self._first
        for i, value in enumerate(totals.tolist()):
            index = offset + i
            if index < len(self._sums):
                self._sums[index] += value
            else:
                self._sums.append(value)
        self._position += frames

    def sums(self) -> GatingSums:
        """What has been measured so far."""
        return GatingSums(self._first or 0, np.asarray(self._sums, dtype=np.float64), self._peak)


def measure_samples(
    samples: npt.NDArray[np.floating[Any]],
    sample_rate: int,
    layout: str | None = None,
) -> float:
    """Integrated loudness, LUFS, of a whole signal in memory (shape ``(frames, channels)``)."""
    meter = LoudnessMeter(sample_rate, samples.shape[1], layout)
    meter.add(samples)
    return integrated_loudness(meter.sums(), sample_rate, len(samples))
