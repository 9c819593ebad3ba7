"""The dub's AAC encoded block by block: aligned with the track to the sample, no seams, cached."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from dubkit.media import FFmpeg, aacblocks
from dubkit.media.aacblocks import PRIMING, encode_blocks, split_adts
from dubkit.media.blockmix import block_frames
from dubkit.media.pcm import open_pcm

from .conftest import ffmpeg_make

RATE = 16000


def _decode(path: Path, *args: str) -> np.ndarray:
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", *args, "-i", str(path), "-f", "f32le", "-ac", "1", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(out, dtype=np.float32)


@pytest.fixture
def speechy(tmp_path: Path) -> Path:
    """70 s of mono 16 kHz tones that change pitch every 0.7 s (three blocks, seams mid-sound)."""
    return ffmpeg_make(
        tmp_path / "dub.wav",
        "-f",
        "lavfi",
        "-i",
        f"aevalsrc='0.3*sin(2*PI*(300+100*mod(floor(t/0.7),7))*t)':d=70:s={RATE}",
        "-c:a",
        "pcm_s16le",
    )


def test_blocks_join_without_seams(tmp_path: Path, speechy: Path, ffmpeg: FFmpeg) -> None:
    total = open_pcm(speechy).frames
    encoded = encode_blocks(
        speechy,
        tmp_path / "dub.aac",
        total_frames=total,
        layout="mono",
        bitrate="64k",
        cache=tmp_path / "cache",
        temp=tmp_path,
        ffmpeg=ffmpeg,
        cwd=tmp_path,
    )
    assert (encoded.blocks, encoded.encoded) == (3, 3)
    whole = ffmpeg_make(
        tmp_path / "whole.aac",
        "-i",
        str(speechy),
        "-c:a",
        "aac",
        "-aac_coder",
        "fast",
        "-b:a",
        "64k",
        "-f",
        "adts",
    )
    # Decoded, both start with the encoder's priming frame; past it they match the source alike. The
    # blocks end on the last whole AAC frame (never after the track).
    whole_frames = total // 1024 * 1024
    source = open_pcm(speechy).read(0, whole_frames)[:, 0]
    stitched = _decode(encoded.path)[PRIMING:]
    reference = _decode(whole)[PRIMING : PRIMING + whole_frames]
    assert len(stitched) == whole_frames

    def snr(decoded: np.ndarray) -> float:
        return float(10 * np.log10(np.mean(source**2) / np.mean((decoded - source) ** 2)))

    assert snr(stitched) > 20
    assert snr(stitched) == pytest.approx(snr(reference), abs=1.5)
    size = block_frames(RATE)
    for seam in (size, 2 * size):  # no click where two blocks meet
        near = np.abs(stitched - source)[seam - 2048 : seam + 2048].max()
        assert near < 3 * np.percentile(np.abs(reference - source), 99.9)


def test_only_changed_blocks_are_encoded_again(
    tmp_path: Path, speechy: Path, ffmpeg: FFmpeg, monkeypatch: pytest.MonkeyPatch
) -> None:
    batches: list[list[int]] = []
    real = aacblocks._encode

    def counting(batch: list[aacblocks._Job], *args: object, **kwargs: object) -> None:
        batches.append([job.index for job in batch])
        real(batch, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(aacblocks, "_encode", counting)
    total = open_pcm(speechy).frames

    def encode(source: Path, out: str) -> Path:
        return encode_blocks(
            source,
            tmp_path / out,
            total_frames=total,
            layout="mono",
            bitrate="64k",
            cache=tmp_path / "cache",
            temp=tmp_path,
            ffmpeg=ffmpeg,
            cwd=tmp_path,
        ).path

    first = encode(speechy, "a.aac")
    assert sorted(i for batch in batches for i in batch) == [0, 1, 2]
    assert len(batches) == 2  # one ffmpeg run per worker
    batches.clear()
    assert encode(speechy, "b.aac").read_bytes() == first.read_bytes()  # all cached, same bytes
    assert batches == []

    # Change one second in the middle of block 1: only that block is encoded again.
    edited = tmp_path / "edited.wav"
    data = bytearray(speechy.read_bytes())
    pcm = open_pcm(speechy)
    offset = pcm.offset + 2 * 45 * RATE
    data[offset : offset + 2 * RATE] = bytes(2 * RATE)
    edited.write_bytes(bytes(data))
    second = encode(edited, "c.aac")
    assert batches == [[1]]
    old, new = split_adts(first.read_bytes()), split_adts(second.read_bytes())
    assert len(old) == len(new)
    changed = [i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b]
    per_block = block_frames(RATE) // 1024
    assert changed and all(per_block < i <= 2 * per_block for i in changed)


def test_split_adts_rejects_garbage() -> None:
    with pytest.raises(ValueError, match="sync"):
        split_adts(b"not an adts stream")
    assert split_adts(b"") == []
