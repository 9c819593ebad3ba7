"""The ``demucs`` separator: Demucs (Hybrid Transformer Demucs by default) voice/background separation.

The model loads by name through demucs's pretrained loader (``htdemucs``, ``htdemucs_ft``, ``mdx_extra``,
...; weights are downloaded once), by name from a local model repository (a directory of ``.th`` and
``.yaml`` files, the ``repo`` option), or from a local model file saved by demucs. Model files are
pickles: load only files you trust.

The full-quality track is read in chunks (``chunk_seconds``, cross-faded over ``crossfade_seconds``),
so memory stays bounded whatever the length; inside a chunk demucs's ``apply_model`` splits again into
the model's own segments. Each chunk is resampled to the model's rate and back, and channels are fed
to the model in groups of its channel count (stereo pairs for a stereo model; mono is duplicated), so
the stems keep the input's rate and channel count. The voice stem is the ``voice_source`` (``vocals``);
the background is the sum of the other sources.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.backends.base import BaseSeparator
from dubkit.backends.devices import DeviceBackendMixin, check_device_option
from dubkit.backends.stem_checkpoint import ResumePoint, StemCheckpoint
from dubkit.digests import file_sha256
from dubkit.errors import BackendRuntimeError, BackendUnavailableError, CorruptMediaError
from dubkit.models.media import AudioFile, Stems

__all__ = ["DemucsSeparator", "WavReader", "WavWriter"]

_KIND, _NAME = "separator", "demucs"
_INSTALL = "pip install 'dubkit[demucs]'"
_PCM, _FLOAT, _EXTENSIBLE = 1, 3, 0xFFFE
F32 = npt.NDArray[np.float32]


class WavReader:
    """Random access to the frames of a PCM (16/24/32-bit) or float WAV, RIFF or RF64, as float32.

    Raises:
        CorruptMediaError: not a WAV file this reader understands.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        with path.open("rb") as f:
            riff = f.read(12)
            if len(riff) < 12 or riff[:4] not in (b"RIFF", b"RF64") or riff[8:12] != b"WAVE":
                raise CorruptMediaError("not a RIFF/WAVE file", path=str(path))
            big_data: int | None = None
            fmt: bytes | None = None
            while True:
                head = f.read(8)
                if len(head) < 8:
                    raise CorruptMediaError("WAV file without a data chunk", path=str(path))
                chunk_id, size = head[:4], struct.unpack("<I", head[4:])[0]
                if chunk_id == b"ds64":
                    body = f.read(size + (size & 1))
                    big_data = struct.unpack("<Q", body[8:16])[0]
                elif chunk_id == b"fmt ":
                    fmt = f.read(size + (size & 1))
                elif chunk_id == b"data":
                    self._offset = f.tell()
                    data_size = big_data if size == 0xFFFFFFFF and big_data is not None else size
                    break
                else:
                    f.seek(size + (size & 1), 1)
        if fmt is None or len(fmt) < 16:
            raise CorruptMediaError("WAV file without a format chunk", path=str(path))
        tag, channels, rate, _, block, bits = struct.unpack("<HHIIHH", fmt[:16])
        self.channels, self.sample_rate, self._block = int(channels), int(rate), int(block)
        if tag == _EXTENSIBLE and len(fmt) >= 26:
            tag = struct.unpack("<H", fmt[24:26])[0]
        self._width = bits // 8
        if (tag, self._width) not in ((_PCM, 2), (_PCM, 3), (_PCM, 4), (_FLOAT, 4), (_FLOAT, 8)):
            raise CorruptMediaError(f"unsupported WAV encoding (format {tag}, {bits}-bit)", path=str(path))
        self.is_float = tag == _FLOAT
        self.frames: int = min(int(data_size), path.stat().st_size - self._offset) // self._block

    @property
    def duration(self) -> float:
        """Seconds."""
        return self.frames / self.sample_rate

    def read(self, start: int, count: int) -> F32:
        """``count`` frames from frame ``start`` as a (channels, frames) float32 array in [-1, 1]."""
        count = max(0, min(count, self.frames - start))
        with self.path.open("rb") as f:
            f.seek(self._offset + start * self._block)
            raw = f.read(count * self._block)
        if self._width == 3:
            b = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
            ints = (b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)) << 8  # sign lands in bit 31
            data = ints.astype(np.float32) / 2**31
        elif self.is_float:
            data = np.frombuffer(raw, dtype="<f4" if self._width == 4 else "<f8").astype(np.float32)
        else:
            dtype, scale = ("<i2", 2**15) if self._width == 2 else ("<i4", 2**31)
            data = np.frombuffer(raw, dtype=dtype).astype(np.float32) / scale
        return np.ascontiguousarray(data.reshape(-1, self.channels).T)


class WavWriter:
    """Streams frames into a 16-bit PCM or 32-bit float WAV; written under a temp name, renamed on close.

    Args:
        path: The finished file.
        sample_rate: Hz.
        channels: Channel count.
        float32: 32-bit float samples rather than 16-bit PCM.
        partial: Where the file is written until `close` (default: ``path`` + ``.part``).
        resume_frames: Continue a ``partial`` file left by an earlier writer after its first
            ``resume_frames`` frames (anything after them is cut off); ``None`` starts afresh.

    Raises:
        ValueError: ``resume_frames`` is given but the partial file holds fewer frames (or is missing).
    """

    def __init__(
        self,
        path: Path,
        sample_rate: int,
        channels: int,
        *,
        float32: bool = False,
        partial: Path | None = None,
        resume_frames: int | None = None,
    ) -> None:
        self.path, self.sample_rate, self.channels, self.float32 = path, sample_rate, channels, float32
        self.frames = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = partial or path.with_name(path.name + ".part")
        self._tmp.parent.mkdir(parents=True, exist_ok=True)
        block = (4 if float32 else 2) * channels
        header = len(self._header(0))
        if resume_frames is not None:
            size = self._tmp.stat().st_size if self._tmp.is_file() else -1
            if size < header + resume_frames * block:
                raise ValueError(f"{self._tmp.name} holds fewer than {resume_frames} frames")
            self._file: BinaryIO = self._tmp.open("r+b")
            self._file.truncate(header + resume_frames * block)
            self._file.seek(0, 2)
            self.frames = resume_frames
        else:
            self._file = self._tmp.open("wb")
            self._file.write(self._header(0))

    def sync(self) -> None:
        """Flush what was written to the disk (a checkpoint can then count on it)."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def _header(self, data_bytes: int) -> bytes:
        width = 4 if self.float32 else 2
        block = width * self.channels
        fmt = struct.pack(
            "<HHIIHH",
            _FLOAT if self.float32 else _PCM,
            self.channels,
            self.sample_rate,
            self.sample_rate * block,
            block,
            8 * width,
        )
        return (
            b"RIFF"
            + struct.pack("<I", 36 + data_bytes)
            + b"WAVEfmt "
            + struct.pack("<I", 16)
            + fmt
            + (b"data" + struct.pack("<I", data_bytes))
        )

    def write(self, block: F32) -> None:
        """Append a (channels, frames) float block."""
        frames = np.clip(block.T, -1.0, 1.0)
        data = frames.astype("<f4") if self.float32 else (frames * 32767.0).round().astype("<i2")
        self._file.write(data.tobytes())
        self.frames += block.shape[1]

    def close(self) -> AudioFile:
        """Finish the header, rename into place and describe the file."""
        size = self.frames * self.channels * (4 if self.float32 else 2)
        if size > 0xFFFFFFFF - 36:
            self._file.close()
            self._tmp.unlink()
            raise BackendRuntimeError(f"{self.path.name} would be over 4 GiB", kind=_KIND, name=_NAME)
        self._file.seek(0)
        self._file.write(self._header(size))
        self._file.close()
        self._tmp.replace(self.path)
        return AudioFile(self.path, self.sample_rate, self.channels, self.frames / self.sample_rate)

    def abort(self, *, keep: bool = False) -> None:
        """Stop writing; drop the partial file unless ``keep`` (a checkpoint will resume it)."""
        self._file.close()
        if not keep:
            self._tmp.unlink(missing_ok=True)


def _channel_groups(channels: int, width: int) -> Iterator[list[int]]:
    """Input channels in groups of the model's channel count; a short group repeats its last channel."""
    for first in range(0, channels, width):
        group = list(range(first, min(first + width, channels)))
        yield group + [group[-1]] * (width - len(group))


class DemucsSeparator(DeviceBackendMixin, BaseSeparator["DemucsSeparator.Options"]):
    """Splits the full-quality track into a voice stem and a background stem with Demucs."""

    runtime = "torch"

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            model: A pretrained model or bag name (``htdemucs``), or a path to a model file saved by demucs.
            repo: A local model repository (directory of ``.th``/``.yaml`` files) to look ``model`` up in.
            device: ``auto`` (a CUDA GPU when torch sees one, else the CPU), ``cpu``, ``cuda``, ``cuda:1``.
            voice_source: The model source that holds the voice.
            shifts: Random time shifts averaged per segment (demucs's equivariance trick; 0 = none).
            overlap: Overlap between the model's own segments inside a chunk.
            segment: Override of the model's segment length, seconds.
            chunk_seconds: Audio read and separated at a time (bounds memory).
            crossfade_seconds: Overlap between chunks, cross-faded.
        """

        model: str = "htdemucs"
        repo: str | None = None
        device: str = attrs.field(default="auto", validator=check_device_option)
        voice_source: str = "vocals"
        shifts: int = 1
        overlap: float = 0.25
        segment: float | None = None
        chunk_seconds: float = 60.0
        crossfade_seconds: float = 1.0

    _model: Any = None
    _torch: Any = None
    _device: str = "cpu"
    _apply: Any = None
    _resample: Any = None

    def _load(self) -> None:
        try:
            import torch  # noqa: TID251
            from demucs.apply import apply_model
            from demucs.pretrained import get_model
            from demucs.states import load_model
            from julius.resample import resample_frac
        except ImportError as exc:
            raise BackendUnavailableError(
                _KIND, _NAME, f"cannot import demucs: {exc}", install=_INSTALL
            ) from exc
        opts = self.options
        try:
            if Path(opts.model).is_file():
                load_file: Callable[[str], Any] = load_model
                model = load_file(opts.model)
            elif opts.repo is not None:
                if not Path(opts.repo).is_dir():
                    raise FileNotFoundError(f"model repository {opts.repo!r} is not a directory")
                model = get_model(opts.model, repo=Path(opts.repo))
            else:
                model = get_model(opts.model)
        except (OSError, RuntimeError, ValueError, KeyError, ImportError, SystemExit) as exc:
            raise BackendUnavailableError(
                _KIND,
                _NAME,
                f"cannot load demucs model {opts.model!r} ({type(exc).__name__}: {exc}); name a pretrained "
                "model where its download site can be reached, or point model/repo at local files",
            ) from exc
        if opts.voice_source not in model.sources:
            raise BackendUnavailableError(
                _KIND,
                _NAME,
                f"model {opts.model!r} has no {opts.voice_source!r} source (it has {model.sources})",
            )
        self._device = self._resolve_device()
        model.to(self._device)
        model.eval()
        self._set_device_use(self._device, "float32")
        self._torch, self._model, self._apply, self._resample = (
            torch,
            model,
            apply_model,
            resample_frac,
        )

    def _close(self) -> None:
        self._model = self._torch = self._apply = self._resample = None

    def separate(self, audio: AudioFile, out_dir: Path) -> Stems:
        """Write ``voice.wav`` and ``background.wav`` into ``out_dir`` (input's rate and channels).

        Stems are 16-bit PCM, or 32-bit float when the input is float.

        Raises:
            CorruptMediaError: the input is not a WAV file dubkit can read.
            BackendRuntimeError: separation failed.
        """
        return self._separate(audio, out_dir, None)

    def separate_resumably(self, audio: AudioFile, out_dir: Path, checkpoint_dir: Path) -> Stems:
        """`separate`, keeping a checkpoint after every chunk in ``checkpoint_dir``.

        A call that finds a checkpoint of the same input and settings there (a run killed half way)
        continues after its last finished chunk; the stems equal an uninterrupted run's when the model is
        deterministic (``shifts=0``: demucs's random shifts differ between runs anyway).

        Raises:
            CorruptMediaError: the input is not a WAV file dubkit can read.
            BackendRuntimeError: separation failed.
        """
        return self._separate(audio, out_dir, self._checkpoint(audio, checkpoint_dir))

    def separate_reporting(
        self,
        audio: AudioFile,
        out_dir: Path,
        progress: Callable[[float], None],
        checkpoint_dir: Path | None = None,
    ) -> Stems:
        """`separate` (`separate_resumably` with ``checkpoint_dir``), calling ``progress`` as it goes.

        ``progress`` gets the fraction of the input separated before each chunk, around each of the model's
        segments inside a chunk (a few seconds of audio each), and every 0.2 s while the model runs on a
        segment (from a hook on its layers); when it raises (a cancelled run), the separation stops there:
        the partial stems are removed, or kept for the checkpoint.

        Raises:
            CorruptMediaError: the input is not a WAV file dubkit can read.
            BackendRuntimeError: separation failed.
        """
        checkpoint = None if checkpoint_dir is None else self._checkpoint(audio, checkpoint_dir)
        return self._separate(audio, out_dir, checkpoint, progress)

    def _checkpoint(self, audio: AudioFile, checkpoint_dir: Path) -> StemCheckpoint:
        fingerprint = hashlib.sha256(
            json.dumps([attrs.asdict(self.options), file_sha256(audio.path)], default=str).encode()
        ).hexdigest()
        return StemCheckpoint(checkpoint_dir, fingerprint)

    def _separate(
        self,
        audio: AudioFile,
        out_dir: Path,
        checkpoint: StemCheckpoint | None,
        progress: Callable[[float], None] | None = None,
    ) -> Stems:
        self.load()
        src = WavReader(audio.path)
        opts = self.options
        scale = self._scale(src)
        point = checkpoint.load() if checkpoint is not None else None
        voice, background = (
            WavWriter(
                out_dir / f"{stem}.wav",
                src.sample_rate,
                src.channels,
                float32=src.is_float,
                partial=checkpoint.partial(stem) if checkpoint is not None else None,
                resume_frames=point.written if point is not None else None,
            )
            for stem in ("voice", "background")
        )
        reporter = None if progress is None else _Reporter(progress)
        hooks = [] if reporter is None else reporter.hook(self._model)
        try:
            chunk = max(1, int(opts.chunk_seconds * src.sample_rate))
            fade = min(int(opts.crossfade_seconds * src.sample_rate), chunk // 4)
            tails = point.tails if point is not None else None
            pos = point.position if point is not None else 0
            while pos < src.frames:
                n = min(chunk, src.frames - pos)
                report = None if reporter is None else _chunk_progress(reporter, pos, n, src.frames)
                if report is not None:
                    report(0.0)
                v, b = self._separate_block(src.read(pos, n), src.sample_rate, scale, report)
                if tails is not None and fade:
                    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
                    v[:, :fade] = tails[0] * (1 - ramp) + v[:, :fade] * ramp
                    b[:, :fade] = tails[1] * (1 - ramp) + b[:, :fade] * ramp
                if pos + n >= src.frames:
                    voice.write(v)
                    background.write(b)
                    break
                voice.write(v[:, : n - fade])
                background.write(b[:, : n - fade])
                tails = (v[:, n - fade :], b[:, n - fade :])
                pos += n - fade
                if checkpoint is not None:
                    voice.sync()
                    background.sync()
                    checkpoint.save(ResumePoint(pos, voice.frames, tails))
        except (RuntimeError, ValueError) as exc:
            voice.abort(keep=checkpoint is not None)
            background.abort(keep=checkpoint is not None)
            raise BackendRuntimeError(
                f"demucs failed on {audio.path.name}: {exc}", kind=_KIND, name=_NAME, unit=audio.path.name
            ) from exc
        except BaseException:
            voice.abort(keep=checkpoint is not None)
            background.abort(keep=checkpoint is not None)
            raise
        finally:
            for hook in hooks:
                hook.remove()
        stems = Stems(voice=voice.close(), background=background.close())
        if checkpoint is not None:
            checkpoint.clear()
        return stems

    def _scale(self, src: WavReader) -> float:
        """Standard deviation of the mono mix (demucs normalises its input by it), read block by block."""
        total = total_sq = 0.0
        step = 30 * src.sample_rate
        for pos in range(0, src.frames, step):
            mono = src.read(pos, step).mean(axis=0, dtype=np.float64)
            total += float(mono.sum())
            total_sq += float(np.square(mono).sum())
        n = max(1, src.frames)
        std = float(np.sqrt(max(0.0, total_sq / n - (total / n) ** 2)))
        return std if std > 1e-8 else 1.0

    def _separate_block(
        self, block: F32, rate: int, scale: float, report: Callable[[float], None] | None = None
    ) -> tuple[F32, F32]:
        """(voice, background) of a (channels, frames) block, same shape.

        ``report`` gets the block's fraction done around each of the model's segments (and may raise).
        """
        torch, model, opts = self._torch, self._model, self.options
        frames = block.shape[1]
        x = torch.from_numpy(block)
        if rate != model.samplerate:
            x = self._resample(x, rate, model.samplerate)
        sources = list(model.sources)
        out = torch.zeros(len(sources), block.shape[0], x.shape[-1])
        count = torch.zeros(block.shape[0], 1)
        groups = list(_channel_groups(block.shape[0], model.audio_channels))
        for index, group in enumerate(groups):
            callback = _segment_callback(report, index, len(groups), opts.shifts, x.shape[-1])
            with torch.inference_mode():
                est = (
                    self._apply(
                        model,
                        x[group][None] / scale,
                        shifts=opts.shifts,
                        split=True,
                        overlap=opts.overlap,
                        progress=False,
                        device=self._device,
                        segment=opts.segment,
                        callback=callback,
                    )[0].cpu()
                    * scale
                )
            for j, channel in enumerate(group):
                out[:, channel] += est[:, j]
                count[channel] += 1
        out /= count
        vi = sources.index(opts.voice_source)
        voice, background = out[vi], out[[i for i in range(len(sources)) if i != vi]].sum(dim=0)
        if rate != model.samplerate:
            voice = self._resample(voice, model.samplerate, rate)
            background = self._resample(background, model.samplerate, rate)
        return _fit(voice.numpy(), frames), _fit(background.numpy(), frames)


class _Reporter:
    """``separate_reporting``'s progress, reported at chunk and segment boundaries and polled in between.

    A segment of the model is seconds of work (16-20 s for an htdemucs-sized model on two busy cores), so
    `hook` adds a forward pre-hook to every module of the model that reports the last fraction again at
    most every ``interval`` seconds: a cancel (the callback raising) stops the separation within a layer.
    Fractions never go back.
    """

    def __init__(self, progress: Callable[[float], None], interval: float = 0.2) -> None:
        self._progress = progress
        self.interval = interval
        self.fraction = 0.0
        self._last = time.monotonic()

    def __call__(self, fraction: float) -> None:
        self.fraction = max(self.fraction, min(1.0, fraction))
        self._last = time.monotonic()
        self._progress(self.fraction)

    def poll(self, *_: object) -> None:
        """The pre-hook: report again if ``interval`` has passed."""
        if time.monotonic() - self._last >= self.interval:
            self(self.fraction)

    def hook(self, model: Any) -> list[Any]:
        """Hook every module of ``model`` (remove the returned handles when done)."""
        return [module.register_forward_pre_hook(self.poll) for module in model.modules()]


def _chunk_progress(
    progress: Callable[[float], None], pos: int, frames: int, total: int
) -> Callable[[float], None]:
    """The whole input's progress from one chunk's (``frames`` input frames from ``pos``)."""

    def report(fraction: float) -> None:
        progress(min(1.0, (pos + fraction * frames) / max(1, total)))

    return report


def _segment_callback(
    report: Callable[[float], None] | None, group: int, groups: int, shifts: int, length: int
) -> Callable[[dict[str, Any]], None] | None:
    """A callback for demucs's ``apply_model``: the block's fraction done, at each segment's start and end.

    demucs calls it before and after the model runs on each segment (per shift, per model of a bag);
    what it raises stops the separation.
    """
    if report is None:
        return None
    passes = max(1, shifts)

    def callback(info: dict[str, Any]) -> None:
        within = min(1.0, float(info.get("segment_offset", 0)) / max(1, length))
        shift = int(info.get("shift_idx", 0)) if shifts else 0
        models = max(1, int(info.get("models", 1)))
        bag = int(info.get("model_idx_in_bag", 0))
        done = ((bag * passes + shift) + within) / (models * passes)
        report((group + done) / groups)

    return callback


def _fit(block: npt.NDArray[Any], frames: int) -> F32:
    """Trim or zero-pad to ``frames`` (resampling can be off by a sample)."""
    block = block[:, :frames].astype(np.float32)
    if block.shape[1] < frames:
        block = np.pad(block, ((0, 0), (0, frames - block.shape[1])))
    return np.ascontiguousarray(block)
