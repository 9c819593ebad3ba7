"""Comparing two dubbed MP4s stream by stream (ffprobe packet hashes, decoded PCM, subtitle cues), to check
that a re-dub changed the dub only around the edited line and left everything else bit-identical."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt


@attrs.frozen
class Packet:
    """One packet of a stream: its time, length and the MD5 of its bytes."""

    start: float
    duration: float
    digest: str


def streams(path: Path) -> list[dict[str, object]]:
    """ffprobe's streams of ``path`` (index, codec_type, language tag)."""
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)],
        check=True,
        capture_output=True,
    ).stdout
    found: list[dict[str, object]] = json.loads(out)["streams"]
    return found


def packets(path: Path, index: int) -> list[Packet]:
    """Every packet of stream ``index`` with its MD5."""
    out = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-select_streams",
            str(index),
            "-show_packets",
            "-show_data_hash",
            "md5",
            "-show_entries",
            "packet=pts_time,duration_time,data_hash",
            "-of",
            "json",
            str(path),
        ],
        check=True,
        capture_output=True,
    ).stdout
    return [
        Packet(float(p["pts_time"]), float(p.get("duration_time", 0.0)), p["data_hash"])
        for p in json.loads(out)["packets"]
    ]


def decoded(path: Path, index: int) -> tuple[int, npt.NDArray[np.int16]]:
    """Stream ``index`` decoded to 16-bit PCM: (sample rate, samples as frames x channels)."""
    info = next(s for s in streams(path) if s["index"] == index)
    rate, channels = int(str(info["sample_rate"])), int(str(info["channels"]))
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", f"0:{index}", "-f", "s16le", "-"],
        check=True,
        capture_output=True,
    ).stdout
    return rate, np.frombuffer(raw, dtype="<i2").reshape(-1, channels)


def subtitle_cues(path: Path, index: int) -> list[tuple[float, float, str]]:
    """The cues of subtitle stream ``index``: (start, end, text)."""
    out = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(path), "-map", f"0:{index}", "-f", "webvtt", "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    cues = []
    for block in out.split("\n\n"):
        lines = [line for line in block.strip().splitlines() if line]
        timing = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing is None:
            continue
        start, _, end = lines[timing].partition(" --> ")
        cues.append((_seconds(start), _seconds(end.split()[0]), "\n".join(lines[timing + 1 :])))
    return cues


def _seconds(stamp: str) -> float:
    parts = [float(p) for p in stamp.replace(",", ".").split(":")]
    total = 0.0
    for part in parts:
        total = total * 60 + part
    return total
