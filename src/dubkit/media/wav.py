"""Reading a WAV file's facts (rate, channels, length, layout) from its header, without ffprobe.

Handles what ffmpeg, sox, rubberband and Python's wave module write: RIFF and RF64 (``-rf64 auto`` for
files over 4 GiB), PCM, IEEE float and WAVE_FORMAT_EXTENSIBLE with a channel mask.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import BinaryIO

from dubkit.errors import CorruptMediaError, NotMediaError
from dubkit.models.media import AudioFile

__all__ = ["CHANNEL_MASKS", "default_layout", "read_wav_info"]

_EXTENSIBLE = 0xFFFE
_FORMATS = {1: "pcm", 3: "float", _EXTENSIBLE: "extensible"}
_MAX_CHUNKS = 64

#: WAVE_FORMAT_EXTENSIBLE channel masks and ffmpeg's names for them.
CHANNEL_MASKS = {
    0x4: "mono",
    0x3: "stereo",
    0xB: "2.1",
    0x7: "3.0",
    0x107: "3.0(back)",
    0x33: "quad",
    0x603: "quad(side)",
    0x37: "5.0(back)",
    0x607: "5.0",
    0x3F: "5.1",
    0x60F: "5.1(side)",
    0x13F: "6.1(back)",
    0x70F: "6.1",
    0x63F: "7.1",
    0xFF: "7.1(wide)",
}
_DEFAULT_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def default_layout(channels: int) -> str | None:
    """The default ffmpeg layout name for a channel count (``stereo`` for 2), or ``None`` past 8."""
    return _DEFAULT_LAYOUTS.get(channels)


def _chunks(handle: BinaryIO, path: Path) -> dict[bytes, tuple[int, int]]:
    """Chunk id -> (offset of its payload, size), for the chunks up to and including ``data``."""
    found: dict[bytes, tuple[int, int]] = {}
    data_size64: int | None = None
    for _ in range(_MAX_CHUNKS):
        header = handle.read(8)
        if len(header) < 8:
            break
        chunk_id, size = struct.unpack("<4sI", header)
        offset = handle.tell()
        if chunk_id == b"data" and data_size64 is not None and size == 0xFFFFFFFF:
            size = data_size64
        found.setdefault(chunk_id, (offset, size))
        if chunk_id == b"ds64" and size >= 16:
            data_size64 = struct.unpack("<QQ", handle.read(16))[1]
        if chunk_id == b"data":
            break
        handle.seek(offset + size + (size & 1))
    if b"fmt " not in found or b"data" not in found:
        raise CorruptMediaError("the WAV file has no fmt or data chunk", path=str(path))
    return found


def read_wav_info(path: os.PathLike[str] | str) -> AudioFile:
    """The sample rate, channel count, duration and layout of a WAV file.

    A data chunk whose declared size runs past the end of the file (a file still being written, or a
    size of 0xFFFFFFFF from a streaming writer) is measured by what the file holds.

    Args:
        path: The WAV file.

    Returns:
        Its facts.

    Raises:
        NotMediaError: Not a RIFF/RF64 WAVE file.
        CorruptMediaError: A WAVE file with a broken header.
    """
    path = Path(path)
    with path.open("rb") as handle:
        riff = handle.read(12)
        if len(riff) < 12 or riff[:4] not in (b"RIFF", b"RF64") or riff[8:12] != b"WAVE":
            raise NotMediaError("not a WAV file", path=str(path))
        chunks = _chunks(handle, path)
        fmt_offset, fmt_size = chunks[b"fmt "]
        if fmt_size < 16:
            raise CorruptMediaError("the WAV fmt chunk is too short", path=str(path))
        handle.seek(fmt_offset)
        fmt = handle.read(min(fmt_size, 40))
        tag, channels, rate, _byte_rate, block_align, bits = struct.unpack("<HHIIHH", fmt[:16])
        mask = struct.unpack("<I", fmt[20:24])[0] if tag == _EXTENSIBLE and len(fmt) >= 24 else 0
        file_size = os.fstat(handle.fileno()).st_size
    if tag not in _FORMATS or channels == 0 or rate == 0 or block_align == 0 or bits == 0:
        raise CorruptMediaError(f"unsupported WAV format (tag {tag:#x})", path=str(path))
    data_offset, data_size = chunks[b"data"]
    data_size = min(data_size, max(0, file_size - data_offset))
    frames = data_size // block_align
    layout = CHANNEL_MASKS.get(mask) if mask else default_layout(channels)
    if layout is not None and mask and bin(mask).count("1") != channels:
        layout = default_layout(channels)
    return AudioFile(
        path=path, sample_rate=rate, channels=channels, duration=frames / rate, channel_layout=layout
    )
