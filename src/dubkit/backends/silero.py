"""The ``silero`` VAD: the Silero VAD model that ships inside the ``silero-vad`` package.

The WAV file is read block by block with numpy (silero's ``read_audio`` needs torchaudio or
torchcodec, which dubkit does not); the model's state carries from one 32 ms window to the next
across blocks, so the speech probabilities are exactly those of a whole-file pass, and memory stays
bounded on long files (one probability per 32 ms window is kept: a few MB per hour). The probabilities
become regions through a port of silero's ``get_speech_timestamps_from_probs``
(`dubkit.backends.silero_timestamps`).

With onnxruntime (the default) the backend imports neither torch nor the ``silero_vad`` package, whose
``__init__`` imports torch (1-2 s and ~200 MB per process): it finds the package's ``silero_vad.onnx``
with ``importlib.util.find_spec`` (which does not run the package) and calls the ONNX session itself.
Only ``onnx=False`` (the TorchScript model) imports torch and silero_vad.

16 kHz audio goes through the package's *sequence* model (``silero_vad_16k_sequence.onnx``, shipped
since silero-vad 6.2) when it is there: the same network exported to take a run of windows per call,
with the LSTM state carried inside the call. Its probabilities are bit for bit those of the
one-window-per-call model (the tests check it), and a ten-minute file takes 0.55 s instead of 1.25 s
here: one ``session.run`` per 512 windows (16 s) instead of one per window. 8 kHz audio, and older
packages without the file, go window by window.

(Running pieces of a file side by side as one batch, each piece's state first warmed on the audio just
before it, was measured too and is not offered: the model's state does not settle to the one-pass
state (after 10 s of warm-up, single windows still differed by up to 0.3 in probability), so on the
generated ten-minute talk 4 s / 8 s pieces moved region edges by up to 0.19 s or added two regions
to 133, for a speed-up of 1.8x, less than the sequence model's exact 2.2x.)
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import math
import warnings
import wave
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, overload

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.backends.base import BaseVAD
from dubkit.backends.devices import CudaProbe, DeviceBackendMixin, check_device_option
from dubkit.backends.onnx_session import execution_providers, session_device
from dubkit.backends.silero_timestamps import WINDOW_SAMPLES, speech_timestamps
from dubkit.backends.wav import wav_blocks
from dubkit.errors import BackendRuntimeError, BackendUnavailableError, ConfigError, DubkitError
from dubkit.models.media import AudioFile
from dubkit.models.speech import SpeechRegion

__all__ = ["SileroVAD"]

log = logging.getLogger(__name__)

_NAME = "silero"
_KIND = "vad"
_INSTALL = "pip install 'dubkit[vad]'"
_WINDOW = WINDOW_SAMPLES
_ONNX_FILE = "silero_vad.onnx"  # what silero_vad.load_silero_vad(onnx=True) loads
_SEQUENCE_FILE = "silero_vad_16k_sequence.onnx"  # what load_silero_vad(onnx=True, sequence=True) loads
_SEQUENCE_RATE = 16000
_SEQUENCE_WINDOWS = 512  # windows per call of the sequence model (16 s; ~1.2 MB of input)
_CONTEXT = {16000: 64, 8000: 32}  # samples of the previous window the model sees with each window


def _probability(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and not 0.0 < value < 1.0:
        raise ConfigError(f"{attribute.name} must be between 0 and 1, got {value!r}", field=attribute.name)


def _not_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ConfigError(f"{attribute.name} must be >= 0, got {value!r}", field=attribute.name)


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{attribute.name} must be > 0, got {value!r}", field=attribute.name)


class SileroVAD(DeviceBackendMixin, BaseVAD["SileroVAD.Options"]):
    """Speech regions from Silero VAD's per-window speech probabilities."""

    runtime = "onnxruntime"

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            threshold: Speech probability over which a window is speech.
            neg_threshold: Probability under which speech ends (default ``threshold - 0.15``).
            min_speech_ms: Shorter speech is dropped.
            min_silence_ms: Shorter pauses do not end a region.
            speech_pad_ms: Padding added on both sides of each region.
            max_speech_s: Longer regions are split at a pause (or hard); ``inf`` keeps them whole.
            onnx: Run the ONNX model with onnxruntime (about 2.5x faster than TorchScript on CPU);
                ``None`` picks ONNX when onnxruntime is installed.
            sequence: With ONNX, run 16 kHz audio through the package's sequence model, many windows
                per call (the same probabilities, about 2.2x faster); ``None`` uses it when the
                installed silero-vad ships it (6.2 and later), ``False`` never.
            block_seconds: Seconds of audio read at a time (a block of 60 s at 16 kHz takes about 10 MB
                while it is converted).
            device: Where the ONNX model runs: ``auto`` (CUDA when onnxruntime has its CUDA provider,
                i.e. onnxruntime-gpu; else the CPU), ``cpu``, ``cuda`` or ``cuda:N``. The TorchScript
                model (``onnx=False``) runs on the CPU.
        """

        threshold: float = attrs.field(default=0.5, validator=_probability)
        neg_threshold: float | None = attrs.field(default=None, validator=_probability)
        min_speech_ms: int = attrs.field(default=250, validator=_not_negative)
        min_silence_ms: int = attrs.field(default=100, validator=_not_negative)
        speech_pad_ms: int = attrs.field(default=30, validator=_not_negative)
        max_speech_s: float = attrs.field(default=math.inf, validator=_positive)
        onnx: bool | None = None
        sequence: bool | None = None
        block_seconds: float = attrs.field(default=60.0, validator=_positive)
        device: str = attrs.field(default="auto", validator=check_device_option)

    _model: Any = None
    _session: Any = None
    _sequence_session: Any = None
    _torch: Any = None
    _onnx = False
    _session_state: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None = None
    _sequence_state: tuple[npt.NDArray[np.float32], ...] | None = None

    def _load(self) -> None:
        onnx = self.options.onnx
        if onnx is None:
            onnx = importlib.util.find_spec("onnxruntime") is not None
        if onnx:
            self._load_onnx()
        else:
            self._load_torchscript()
        self._onnx = onnx
        log.debug("loaded Silero VAD (%s)", "onnx" if onnx else "jit")

    def _load_onnx(self) -> None:
        sequence = self.options.sequence
        if sequence is not False:
            path = _packaged_onnx_model(_SEQUENCE_FILE, required=bool(sequence))
            if path is not None:
                self._sequence_session = self._onnx_session(path)
                return  # the one-window model is loaded if 8 kHz audio comes
        self._session = self._onnx_session(_packaged_onnx_model())

    def _onnx_session(self, path: Path) -> Any:
        session = _onnx_session(path, self.options.device, self._cuda_probe)
        self._set_device_use(session_device(session))
        return session

    def _window_session(self) -> Any:
        """The one-window-per-call ONNX session (loaded on first use when the sequence model is used)."""
        if self._session is None:
            self._session = self._onnx_session(_packaged_onnx_model())
        return self._session

    def _load_torchscript(self) -> None:
        try:
            import torch  # noqa: TID251
        except ImportError as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot import torch: {exc}", install=_INSTALL
            ) from exc
        threads = torch.get_num_threads()
        try:
            import silero_vad
        except ImportError as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot import silero_vad: {exc}", install=_INSTALL
            ) from exc
        finally:
            torch.set_num_threads(threads)  # importing silero_vad sets it to 1 for the whole process
        try:
            with warnings.catch_warnings():
                # torch 2.10+ deprecates torch.jit.load, which silero's loader uses for the TorchScript model.
                warnings.filterwarnings("ignore", category=DeprecationWarning, message=r".*torch\.jit")
                self._model = silero_vad.load_silero_vad(onnx=False)
        except Exception as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot load the Silero VAD model: {exc}", install=_INSTALL
            ) from exc
        self._torch = torch

    def _close(self) -> None:
        self._model = self._session = self._sequence_session = self._torch = None

    def detect(self, audio: AudioFile) -> Sequence[SpeechRegion]:
        """Speech regions of a 16 kHz (or 8 kHz) mono 16-bit PCM WAV file, in time order.

        Raises:
            BackendRuntimeError: the file cannot be read, has another sample rate, or the model failed.
        """
        return self.detect_streaming(audio, _no_progress)

    def detect_streaming(self, audio: AudioFile, progress: Callable[[float], None]) -> Sequence[SpeechRegion]:
        """`detect`, calling ``progress`` with the fraction of the file read after each block.

        A `dubkit.backends.protocols.StreamingVAD`: the vad stage hands Silero whole files rather than
        chunks, because its state carries through the file and restarting it at a chunk's cut changed
        regions tens of seconds later (a sentence split in two on the ten-minute benchmark talk).

        Raises:
            BackendRuntimeError: the file cannot be read, has another sample rate, or the model failed.
        """
        self.load()
        opts = self.options
        try:
            probabilities, rate, total = self._probabilities(audio, progress)
            if not probabilities:
                return []
            stamps = speech_timestamps(
                probabilities,
                sampling_rate=rate,
                threshold=opts.threshold,
                neg_threshold=opts.neg_threshold,
                min_speech_ms=opts.min_speech_ms,
                max_speech_s=opts.max_speech_s,
                min_silence_ms=opts.min_silence_ms,
                speech_pad_ms=opts.speech_pad_ms,
                audio_length_samples=total,
            )
        except DubkitError:
            raise
        except Exception as exc:
            raise BackendRuntimeError(
                f"Silero VAD failed on {audio.path.name}: {exc}", kind=_KIND, name=_NAME
            ) from exc
        duration = total / rate
        return [
            SpeechRegion(max(0.0, start / rate), min(duration, end / rate))
            for start, end in stamps
            if end > start
        ]

    def _probabilities(
        self, audio: AudioFile, progress: Callable[[float], None]
    ) -> tuple[list[float], int, int]:
        """One speech probability per window, the sample rate and the number of samples read."""
        step: Callable[[npt.NDArray[np.float32], int, list[float]], None]
        step = self._onnx_windows if self._onnx else self._torch_windows
        probabilities: list[float] = []
        rate, total = 16000, 0
        carry: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)
        self._session_state = self._sequence_state = None
        try:
            # closing(): a pass stopped half way (a cancelled run) closes the file at once, not at the
            # generator's garbage collection.
            with (
                contextlib.closing(wav_blocks(audio.path, self.options.block_seconds)) as blocks,
                self._torch_mode(),
            ):
                for rate, block in blocks:
                    window = _WINDOW.get(rate)
                    if window is None:
                        raise BackendRuntimeError(
                            f"{audio.path.name} is {rate} Hz; Silero VAD needs 16000 or 8000 Hz audio",
                            kind=_KIND,
                            name=_NAME,
                        )
                    total += len(block)
                    data = np.concatenate([carry, block]) if carry.size else block
                    usable = len(data) - len(data) % window
                    step(data[:usable], rate, probabilities)
                    carry = data[usable:]
                    if audio.duration > 0:
                        progress(min(1.0, total / rate / audio.duration))
                if carry.size:
                    padded = np.zeros(_WINDOW[rate], dtype=np.float32)
                    padded[: carry.size] = carry
                    step(padded, rate, probabilities)
            progress(1.0)
        except (OSError, EOFError, wave.Error) as exc:
            raise BackendRuntimeError(
                f"cannot read {audio.path.name}: {exc}", kind=_KIND, name=_NAME
            ) from exc
        return probabilities, rate, total

    @contextmanager
    def _torch_mode(self) -> Iterator[None]:
        """For the TorchScript model: fresh model state, inference mode, one torch thread."""
        if self._onnx:
            yield
            return
        torch = self._torch
        self._model.reset_states()
        threads = torch.get_num_threads()
        torch.set_num_threads(1)  # one 32 ms window at a time: more threads only add overhead (8x here)
        try:
            with torch.inference_mode():
                yield
        finally:
            torch.set_num_threads(threads)

    def _torch_windows(self, samples: npt.NDArray[np.float32], rate: int, out: list[float]) -> None:
        """Probabilities of consecutive windows through silero's own wrapper (state carried)."""
        window = _WINDOW[rate]
        for start in range(0, len(samples), window):
            chunk = self._torch.from_numpy(np.ascontiguousarray(samples[start : start + window]))
            out.append(float(self._model(chunk, rate).item()))

    def _onnx_windows(self, samples: npt.NDArray[np.float32], rate: int, out: list[float]) -> None:
        """The same through the ONNX session directly, in numpy.

        What silero's ``OnnxWrapper`` does for every 32 ms window (the previous window's last samples
        as context, the state carried), without going through torch: the identical numbers, about 25%
        faster.
        """
        if rate == _SEQUENCE_RATE and self._sequence_session is not None:
            self._sequence_windows(samples, out)
            return
        window = _WINDOW[rate]
        context_size = _CONTEXT[rate]
        session = self._window_session()
        if self._session_state is None:
            self._session_state = (
                np.zeros((2, 1, 128), dtype=np.float32),
                np.zeros((1, context_size), dtype=np.float32),
            )
        state, context = self._session_state
        sample_rate = np.array(rate, dtype=np.int64)
        for start in range(0, len(samples), window):
            frame = np.concatenate([context, samples[None, start : start + window]], axis=1)
            probability, state = session.run(None, {"input": frame, "state": state, "sr": sample_rate})
            context = frame[:, -context_size:]
            out.append(float(probability[0, 0]))
        self._session_state = (state, context)

    def _sequence_windows(self, samples: npt.NDArray[np.float32], out: list[float]) -> None:
        """The same through the sequence model: `_SEQUENCE_WINDOWS` windows per call.

        Each row of a call's input is a window with the previous window's last samples in front (what
        the one-window model is given), and the LSTM state (``h``, ``c``) carries from call to call.
        """
        window, context_size = _WINDOW[_SEQUENCE_RATE], _CONTEXT[_SEQUENCE_RATE]
        if self._sequence_state is None:
            self._sequence_state = (
                np.zeros((1, 1, 128), dtype=np.float32),
                np.zeros((1, 1, 128), dtype=np.float32),
                np.zeros(context_size, dtype=np.float32),
            )
        hidden, cell, context = self._sequence_state
        count = len(samples) // window
        for first in range(0, count, _SEQUENCE_WINDOWS):
            rows = min(_SEQUENCE_WINDOWS, count - first)
            frames = np.empty((rows, context_size + window), dtype=np.float32)
            frames[:, context_size:] = samples[first * window : (first + rows) * window].reshape(rows, window)
            frames[0, :context_size] = context
            frames[1:, :context_size] = frames[:-1, -context_size:]
            context = frames[-1, -context_size:].copy()
            probabilities, hidden, cell = self._sequence_session.run(
                ["speech_probs", "hn", "cn"], {"input": frames, "h": hidden, "c": cell}
            )
            out.extend(np.asarray(probabilities, dtype=np.float32).reshape(-1).tolist())
        self._sequence_state = (hidden, cell, context)


def _no_progress(fraction: float) -> None:
    """Progress nobody follows."""


def _onnx_session(path: Path, device: str, probe: CudaProbe | None) -> Any:
    """An onnxruntime session of a model file with silero's own settings: one thread, on ``device``."""
    try:
        import onnxruntime  # type: ignore[import-untyped]
    except ImportError as exc:
        raise BackendUnavailableError(
            _KIND, _NAME, f"cannot import onnxruntime: {exc}", install=_INSTALL
        ) from exc
    # silero's own OnnxWrapper settings: one thread (one 32 ms window at a time). (Two threads make
    # the sequence model ~25% faster only while they spin between its small kernels, on an idle machine.)
    options = onnxruntime.SessionOptions()
    options.inter_op_num_threads = 1
    options.intra_op_num_threads = 1
    providers = execution_providers(onnxruntime, device, probe=probe)  # ConfigError: no CUDA for "cuda"
    try:
        return onnxruntime.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as exc:
        raise BackendUnavailableError(
            _KIND, _NAME, f"cannot load the Silero VAD model {path}: {exc}", install=_INSTALL
        ) from exc


@overload
def _packaged_onnx_model(name: str = ..., *, required: Literal[True] = ...) -> Path: ...
@overload
def _packaged_onnx_model(name: str = ..., *, required: bool) -> Path | None: ...
def _packaged_onnx_model(name: str = _ONNX_FILE, *, required: bool = True) -> Path | None:
    """A model file inside the installed silero-vad package, found without importing it.

    Raises:
        BackendUnavailableError: it is not there and ``required`` (else ``None``).
    """
    spec = importlib.util.find_spec("silero_vad")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "data" / name
        if path.is_file():
            return path
    if not required:
        return None
    raise BackendUnavailableError(
        _KIND, _NAME, f"the silero-vad package (and its data/{name}) is not installed", install=_INSTALL
    )
