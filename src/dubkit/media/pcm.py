"""Reading frames of a PCM WAV file as float32 at any offset, without decoding the rest of it."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.errors import CorruptMediaError, NotMediaError

__all__ = ["PcmFile", "open_pcm"]

_EXTENSIBLE = 0xFFFE
_DTYPES: dict[tuple[int, int], tuple[str, float]] = {
    (1, 16): ("<i2", 1 / 32768),
    (1, 32): ("<i4", 1 / 2147483648),
    (3, 32): ("<f4", 1.0),
    (3, 64): ("<f8", 1.0),
}
_RAW_FORMATS = {"<i2": "s16le", "<i4": "s32le", "<f4": "f32le", "<f8": "f64le"}
_MAX_CHUNKS = 64


@attrs.frozen(slots=True)
class PcmFile:
    """Where a WAV file's samples are and how to read them.

    Attributes:
        path: The file.
        sample_rate: Hz.
        channels: Channel count.
        frames: Frames in the data chunk (what the file holds).
        offset: Byte offset of the first sample.
        dtype: numpy dtype of one sample.
        scale: Factor to full scale (1.0 for float samples).
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int
    offset: int
    dtype: str
    scale: float

    @property
    def raw_format(self) -> str:
        """The raw demuxer (ffmpeg's name) for the samples as stored (``s16le``, ``f32le``, ...)."""
        return _RAW_FORMATS[self.dtype]

    def read_bytes(self, start: int, count: int) -> bytes:
        """Frames ``[start, start + count)`` as stored; silence (zero bytes) outside the file."""
        size = np.dtype(self.dtype).itemsize * self.channels
        first, last = max(0, start), min(self.frames, start + count)
        if last <= first:
            return bytes(max(0, count) * size)
        with self.path.open("rb") as handle:
            handle.seek(self.offset + first * size)
            data = handle.read((last - first) * size)
        return bytes((first - start) * size) + data + bytes((start + count - first) * size - len(data))

    def read(self, start: int, count: int) -> npt.NDArray[np.float32]:
        """Frames ``[start, start + count)`` as float32 ``(frames, channels)``; zeros outside the file."""
        out = np.zeros((max(0, count), self.channels), dtype=np.float32)
        first, last = max(0, start), min(self.frames, start + count)
        if last <= first:
            return out
        size = np.dtype(self.dtype).itemsize * self.channels
        with self.path.open("rb") as handle:
            handle.seek(self.offset + first * size)
            raw = np.fromfile(handle, dtype=self.dtype, count=(last - first) * self.channels)
        samples = raw.reshape(-1, self.channels)
        target = out[first - start : first - start + len(samples)]
        if self.scale == 1.0:
            target[:] = samples
        else:
            np.multiply(samples, self.scale, out=target, casting="unsafe")
        return out


def _format(fmt: bytes) -> tuple[int, int, int, int, int]:
    tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if tag == _EXTENSIBLE and len(fmt) >= 26:
        tag = struct.unpack("<H", fmt[24:26])[0]
    return tag, channels, rate, block_align, bits


def open_pcm(path: os.PathLike[str] | str) -> PcmFile:
    """Parse a WAV header (RIFF or RF64; 16/32-bit integer or 32/64-bit float samples).

    Raises:
        NotMediaError: Not a RIFF/RF64 WAVE file.
        CorruptMediaError: A broken header or a sample format this reader does not handle.
    """
    path = Path(path)
    fmt: bytes | None = None
    data: tuple[int, int] | None = None
    size64: int | None = None
    with path.open("rb") as handle:
        riff = handle.read(12)
        if len(riff) < 12 or riff[:4] not in (b"RIFF", b"RF64") or riff[8:12] != b"WAVE":
            raise NotMediaError("not a WAV file", path=str(path))
        for _ in range(_MAX_CHUNKS):
            header = handle.read(8)
            if len(header) < 8:
                break
            chunk, size = struct.unpack("<4sI", header)
            offset = handle.tell()
            if chunk == b"ds64" and size >= 16:
                size64 = struct.unpack("<QQ", handle.read(16))[1]
            elif chunk == b"fmt ":
                fmt = handle.read(min(size, 40))
            elif chunk == b"data":
                data = (offset, size64 if size64 is not None and size == 0xFFFFFFFF else size)
                break
            handle.seek(offset + size + (size & 1))
        file_size = os.fstat(handle.fileno()).st_size
    if fmt is None or data is None or len(fmt) < 16:
        raise CorruptMediaError("the WAV file has no usable fmt or data chunk", path=str(path))
    tag, channels, rate, block_align, bits = _format(fmt)
    kind = _DTYPES.get((tag, bits))
    if kind is None or channels == 0 or rate == 0 or block_align != channels * bits // 8:
        raise CorruptMediaError(f"unsupported WAV sample format (tag {tag:#x}, {bits} bits)", path=str(path))
    offset, size = data
    frames = min(size, max(0, file_size - offset)) // block_align
    dtype, scale = kind
    return PcmFile(path, rate, channels, frames, offset, dtype, scale)
