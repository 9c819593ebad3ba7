"""Writing WAV headers the way ffmpeg does.

Plain PCM or float for mono and stereo, WAVE_FORMAT_EXTENSIBLE with the layout's channel mask for more
channels, RF64 past 4 GiB. The mix writes its output block by block from cached PCM; the header is
all it needs besides the samples.
"""

from __future__ import annotations

import struct

from dubkit.errors import ConfigError
from dubkit.media.wav import CHANNEL_MASKS

__all__ = ["SAMPLE_CODECS", "wav_header"]

#: Codecs the header can describe: (format tag of the sub-format, bits per sample).
SAMPLE_CODECS = {"pcm_s16le": (1, 16), "pcm_f32le": (3, 32)}
_LAYOUT_MASKS = {name: mask for mask, name in CHANNEL_MASKS.items()}
_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
_RIFF_LIMIT = 0xFFFFFFFF


def wav_header(*, sample_rate: int, channels: int, layout: str | None, codec: str, frames: int) -> bytes:
    """The bytes before the samples of a WAV file holding ``frames`` frames.

    Raises:
        ConfigError: ``codec`` is not one of `SAMPLE_CODECS`.
    """
    if codec not in SAMPLE_CODECS:
        raise ConfigError(f"codec must be one of {sorted(SAMPLE_CODECS)}", field="codec")
    tag, bits = SAMPLE_CODECS[codec]
    block_align = channels * bits // 8
    mask = _LAYOUT_MASKS.get(layout or "", 0)
    basic = struct.pack("<HHIIHH", tag, channels, sample_rate, sample_rate * block_align, block_align, bits)
    if channels <= 2:
        # What ffmpeg writes for mono and stereo, and what Python's wave module (before 3.12) can read.
        fmt = basic
    else:
        fmt = (
            struct.pack(
                "<HHIIHHHHI",
                0xFFFE,
                channels,
                sample_rate,
                sample_rate * block_align,
                block_align,
                bits,
                22,
                bits,
                mask,
            )
            + struct.pack("<H", tag)
            + _GUID_TAIL
        )
    data_size = frames * block_align
    fmt_chunk = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if 4 + 8 + 28 + len(fmt_chunk) + 8 + data_size <= _RIFF_LIMIT:
        riff_size = 4 + len(fmt_chunk) + 8 + data_size
        return (
            b"RIFF"
            + struct.pack("<I", riff_size)
            + b"WAVE"
            + fmt_chunk
            + b"data"
            + struct.pack("<I", data_size)
        )
    riff_size = 4 + 8 + 28 + len(fmt_chunk) + 8 + data_size
    ds64 = b"ds64" + struct.pack("<IQQQI", 28, riff_size, data_size, frames, 0)
    return (
        b"RF64"
        + struct.pack("<I", _RIFF_LIMIT)
        + b"WAVE"
        + ds64
        + fmt_chunk
        + b"data"
        + struct.pack("<I", _RIFF_LIMIT)
    )
