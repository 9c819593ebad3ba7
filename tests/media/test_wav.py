"""read_wav_info: WAV facts from the header."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from dubkit.errors import CorruptMediaError, NotMediaError
from dubkit.media import read_wav_info


@pytest.mark.parametrize(
    ("codec", "layout", "channels", "expected_layout"),
    [
        ("pcm_s16le", "mono", 1, "mono"),
        ("pcm_f32le", "stereo", 2, "stereo"),
        ("pcm_s16le", "5.1(side)", 6, "5.1(side)"),
        ("pcm_s24le", "5.1", 6, "5.1"),
    ],
)
def test_ffmpeg_wavs(
    tmp_path: Path,
    make_media: Callable[..., Path],
    codec: str,
    layout: str,
    channels: int,
    expected_layout: str,
) -> None:
    path = make_media(
        tmp_path / "x.wav",
        "-f",
        "lavfi",
        "-i",
        "sine=d=1.5:r=32000",
        "-af",
        f"aformat=channel_layouts={layout}",
        "-c:a",
        codec,
    )
    info = read_wav_info(path)
    assert (info.sample_rate, info.channels, info.channel_layout) == (32000, channels, expected_layout)
    assert info.duration == pytest.approx(1.5, abs=1e-4)
    assert info.path == path


def _riff(fmt: bytes, data_size: int, payload: bytes, *, rf64: bool = False, big: int = 0) -> bytes:
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt
    if rf64:
        chunks = b"ds64" + struct.pack("<IQQQI", 28, 0, big, 0, 0) + chunks
    chunks += b"LIST" + struct.pack("<I", 5) + b"INFOx" + b"\0"  # odd-sized chunk, padded
    chunks += b"data" + struct.pack("<I", data_size) + payload
    return (
        (b"RF64" if rf64 else b"RIFF")
        + struct.pack("<I", 0xFFFFFFFF if rf64 else 4 + len(chunks))
        + b"WAVE"
        + chunks
    )


def test_rf64_and_a_data_size_past_the_end(tmp_path: Path) -> None:
    fmt = struct.pack("<HHIIHH", 1, 2, 48000, 48000 * 4, 4, 16)
    path = tmp_path / "big.wav"
    path.write_bytes(_riff(fmt, 0xFFFFFFFF, bytes(48000 * 4), rf64=True, big=10**12))
    info = read_wav_info(path)
    assert info.duration == pytest.approx(1.0)  # measured by what the file holds
    assert info.channel_layout == "stereo"


def test_extensible_with_a_mask(tmp_path: Path) -> None:
    fmt = struct.pack(
        "<HHIIHHHHI16s", 0xFFFE, 6, 48000, 48000 * 24, 24, 32, 22, 32, 0x60F, b"\x03" + bytes(15)
    )
    path = tmp_path / "side.wav"
    path.write_bytes(_riff(fmt, 24 * 4800, bytes(24 * 4800)))
    info = read_wav_info(path)
    assert (info.channels, info.channel_layout) == (6, "5.1(side)")
    assert info.duration == pytest.approx(0.1)


@pytest.mark.parametrize("content", [b"", b"RIFF", b"hello world, not a wav at all", b"RIFF\0\0\0\0AVI LIST"])
def test_not_wav(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(content)
    with pytest.raises(NotMediaError):
        read_wav_info(path)


def test_broken_header(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"RIFF\x10\0\0\0WAVEjunk\x04\0\0\0abcd")
    with pytest.raises(CorruptMediaError):
        read_wav_info(path)
    path.write_bytes(_riff(struct.pack("<HHIIHH", 1, 0, 0, 0, 0, 0), 0, b""))
    with pytest.raises(CorruptMediaError):
        read_wav_info(path)
