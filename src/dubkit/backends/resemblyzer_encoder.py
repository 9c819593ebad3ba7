"""Resemblyzer's pretrained speaker encoder in numpy: no torch, librosa or resemblyzer import at run time.

The encoder is a 3-layer LSTM (40 mel bands -> 256) whose last hidden state goes through a linear layer,
a ReLU and an L2 norm. Its weights ship in the ``resemblyzer`` package as ``pretrained.pt``, a torch
pickle; the first use converts them once (with torch) into ``encoder-<sha256 of the .pt>.npz`` in
``weights_dir`` (default ``~/.cache/dubkit/models/resemblyzer``), written atomically, and every later
run loads only that file. Importing torch and resemblyzer costs 1.5-2 s and about 250 MB of memory per
process; the numpy forward pass gives the same embeddings within 1e-5.

The package is located with ``importlib.util.find_spec``, which does not run its ``__init__`` (that
imports torch). The mel filter bank and the partial-window slicing are resemblyzer's (and librosa's)
arithmetic, ported here so that neither package is imported.

(Resemblyzer's licence is in THIRD_PARTY_NOTICES.md.)
"""

from __future__ import annotations

import hashlib
import importlib.util
import io
import logging
import math
from collections.abc import Sequence
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.atomicfile import atomic_write_bytes
from dubkit.backends.numpy_lstm import LSTMLayer, lstm_last_hidden
from dubkit.errors import BackendUnavailableError

__all__ = [
    "PARTIAL_FRAMES",
    "SpeakerEncoder",
    "default_weights_dir",
    "load_speaker_encoder",
    "mel_filter_bank",
    "packaged_weights",
    "partial_slices",
]

log = logging.getLogger(__name__)

_NAME = "resemblyzer"
_KIND = "diarizer"
_INSTALL = "pip install 'dubkit[diarize]'"
_LAYERS = 3
_RATE = 16000
_FRAME_STEP = 160  # samples per mel frame (10 ms)
#: Mel frames in one partial utterance (1.6 s), resemblyzer's ``partials_n_frames``.
PARTIAL_FRAMES = 160
_Array = npt.NDArray[np.float32]


@attrs.frozen
class SpeakerEncoder:
    """Resemblyzer's voice encoder as numpy arrays.

    Attributes:
        layers: The LSTM layers, first to last.
        linear_weight: ``(256, 256)``.
        linear_bias: ``(256,)``.
        workers: Threads a batch is cut across (see `dubkit.backends.numpy_lstm.lstm_last_hidden`): on
            two idle cores a batch of 128 windows takes about 0.6x the time of one thread; on a busy
            machine the threads share the cores like one (no BLAS barrier to spin at).
    """

    layers: tuple[LSTMLayer, ...]
    linear_weight: _Array
    linear_bias: _Array
    workers: int = attrs.field(default=2, kw_only=True)

    def __call__(self, mels: _Array) -> _Array:
        """L2-normalised embeddings ``(batch, 256)`` of mel spectrograms ``(batch, frames, 40)``.

        The same as resemblyzer's ``VoiceEncoder.forward`` (which gives NaN where this gives zeros:
        an embedding whose every feature the ReLU cut).
        """
        hidden = lstm_last_hidden(mels, self.layers, workers=self.workers)
        raw = np.maximum(hidden @ self.linear_weight.T + self.linear_bias, 0.0)
        norms = np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
        return np.asarray(raw / norms, dtype=np.float32)


def default_weights_dir() -> Path:
    """Where the converted weights are kept by default: ``~/.cache/dubkit/models/resemblyzer``."""
    return Path.home() / ".cache" / "dubkit" / "models" / "resemblyzer"


def packaged_weights() -> Path:
    """The ``pretrained.pt`` that ships in the resemblyzer package (found without importing it).

    Raises:
        BackendUnavailableError: resemblyzer is not installed, or its package holds no weights.
    """
    spec = importlib.util.find_spec("resemblyzer")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "pretrained.pt"
        if path.is_file():
            return path
    raise BackendUnavailableError(
        _KIND, _NAME, "the resemblyzer package (and its pretrained.pt) is not installed", install=_INSTALL
    )


def load_speaker_encoder(weights_dir: Path | None = None) -> SpeakerEncoder:
    """The packaged encoder, converted to ``.npz`` on first use (needs torch once) and cached.

    Args:
        weights_dir: Where the converted weights live; `default_weights_dir` when ``None``.

    Raises:
        BackendUnavailableError: resemblyzer is missing, or the weights need converting and torch is
            not installed.
    """
    source = packaged_weights()
    folder = weights_dir if weights_dir is not None else default_weights_dir()
    target = folder / f"encoder-{_sha256(source)[:16]}.npz"
    try:
        arrays = _read_npz(target)
    except (OSError, ValueError, KeyError) as exc:
        if target.exists():
            log.warning("re-converting unreadable resemblyzer weights %s: %s", target, exc)
        arrays = _convert(source)
        atomic_write_bytes(target, _npz_bytes(arrays))
        log.info("converted %s to %s", source, target)
    return _encoder(arrays)


def partial_slices(n_samples: int, rate: float, min_coverage: float) -> tuple[list[slice], list[slice]]:
    """Waveform and mel-frame slices of the 1.6 s partial utterances covering ``n_samples``.

    Resemblyzer's ``VoiceEncoder.compute_partial_slices``: ``rate`` partials per second, and the last
    partial is kept when at least ``min_coverage`` of it lies inside the audio (always one partial).
    """
    n_frames = math.ceil((n_samples + 1) / _FRAME_STEP)
    frame_step = round((_RATE / rate) / _FRAME_STEP)
    if not 0 < frame_step <= PARTIAL_FRAMES:
        raise ValueError(f"rate {rate} gives a step of {frame_step} frames (1-{PARTIAL_FRAMES} allowed)")
    steps = max(1, n_frames - PARTIAL_FRAMES + frame_step + 1)
    mel_slices = [slice(i, i + PARTIAL_FRAMES) for i in range(0, steps, frame_step)]
    wav_slices = [slice(s.start * _FRAME_STEP, s.stop * _FRAME_STEP) for s in mel_slices]
    last = wav_slices[-1]
    coverage = (n_samples - last.start) / (last.stop - last.start)
    if coverage < min_coverage and len(mel_slices) > 1:
        return wav_slices[:-1], mel_slices[:-1]
    return wav_slices, mel_slices


def mel_filter_bank(rate: int, n_fft: int, n_mels: int) -> _Array:
    """``librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels)``: Slaney mel scale and area norm.

    ``(n_mels, n_fft // 2 + 1)``, float32; 0 Hz to ``rate / 2``.
    """
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / rate)
    mel_freqs = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(rate / 2.0), n_mels + 2))
    widths = np.diff(mel_freqs)
    ramps = np.subtract.outer(mel_freqs, fft_freqs)
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_freqs[2:] - mel_freqs[:-2]))[:, None]
    return np.asarray(weights, dtype=np.float32)


# --- helpers -------------------------------------------------------------------------------------

_F_SP = 200.0 / 3  # Slaney: linear below 1 kHz (66.67 Hz per mel), logarithmic above
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP
_LOG_STEP = math.log(6.4) / 27.0


def _hz_to_mel(hz: float) -> float:
    return hz / _F_SP if hz < _MIN_LOG_HZ else _MIN_LOG_MEL + math.log(hz / _MIN_LOG_HZ) / _LOG_STEP


def _mel_to_hz(mels: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    linear = _F_SP * mels
    logarithmic = _MIN_LOG_HZ * np.exp(_LOG_STEP * (mels - _MIN_LOG_MEL))
    return np.where(mels >= _MIN_LOG_MEL, logarithmic, linear)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _names() -> list[str]:
    names = ["linear.weight", "linear.bias"]
    for layer in range(_LAYERS):
        names += [f"lstm.{kind}_l{layer}" for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    return names


def _read_npz(path: Path) -> dict[str, _Array]:
    with np.load(path, allow_pickle=False) as data:
        return {name: np.asarray(data[name], dtype=np.float32) for name in _names()}


def _npz_bytes(arrays: dict[str, _Array]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def _convert(source: Path) -> dict[str, _Array]:
    """The encoder's tensors from resemblyzer's torch checkpoint, as float32 numpy arrays."""
    try:
        import torch  # noqa: TID251 - only for this one-time conversion
    except ImportError as exc:
        raise BackendUnavailableError(
            _KIND,
            _NAME,
            f"converting resemblyzer's weights to numpy needs torch once, which cannot be imported: {exc}",
            install=_INSTALL,
        ) from exc
    try:
        state = torch.load(source, map_location="cpu")["model_state"]
        return {name: state[name].detach().numpy().astype(np.float32) for name in _names()}
    except Exception as exc:
        raise BackendUnavailableError(
            _KIND, _NAME, f"cannot read resemblyzer's weights {source}: {exc}", install=_INSTALL
        ) from exc


def _encoder(arrays: dict[str, _Array]) -> SpeakerEncoder:
    layers: Sequence[LSTMLayer] = [
        LSTMLayer(
            weight_ih=arrays[f"lstm.weight_ih_l{i}"],
            weight_hh=arrays[f"lstm.weight_hh_l{i}"],
            bias=arrays[f"lstm.bias_ih_l{i}"] + arrays[f"lstm.bias_hh_l{i}"],
        )
        for i in range(_LAYERS)
    ]
    return SpeakerEncoder(tuple(layers), arrays["linear.weight"], arrays["linear.bias"])
