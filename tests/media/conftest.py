"""Media fixtures: small files generated with ffmpeg's lavfi sources once per session; nothing binary is
committed. Helpers for reading WAV samples without numpy live here too."""

from __future__ import annotations

import array
import contextlib
import math
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dubkit.media import FFmpeg, find_ffmpeg

HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the media tests, with a reason, where ffmpeg is not installed."""
    if shutil.which("ffmpeg") and shutil.which("ffprobe"):
        return
    skip = pytest.mark.skip(reason="ffmpeg and ffprobe are not installed")  # pragma: no cover
    for item in items:  # pragma: no cover
        if HERE in Path(str(item.path)).parents:
            item.add_marker(skip)


VIDEO = ["-f", "lavfi", "-i", "testsrc2=s=320x240:r=25:d={d}"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-pix_fmt", "yuv420p"]


def ffmpeg_make(out: Path, *args: str) -> Path:
    """Run ffmpeg to make a test file (a test helper, not the code under test)."""
    subprocess.run(
        ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(out)],
        check=True,
        stdin=subprocess.DEVNULL,
    )
    return out


def _video(d: float) -> list[str]:
    return [part.format(d=d) for part in VIDEO]


def _sine(freq: int, d: float, rate: int, layout: str | None = None) -> list[str]:
    src = f"sine=f={freq}:d={d}:r={rate}"
    if layout:
        src += f",aformat=channel_layouts={layout}"
    return ["-f", "lavfi", "-i", src]


@pytest.fixture(scope="session")
def ffmpeg() -> FFmpeg:
    return find_ffmpeg()


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("media")


@pytest.fixture(scope="session")
def mp4(media_dir: Path) -> Path:
    """4 s of 320x240 h264 (a keyframe every second) with stereo AAC at 48 kHz, index in front."""
    return ffmpeg_make(
        media_dir / "clip.mp4",
        *_video(4),
        *_sine(440, 4, 48000, "stereo"),
        *X264,
        "-c:a",
        "aac",
        "-movflags",
        "+faststart",
        "-shortest",
    )


@pytest.fixture(scope="session")
def mkv(media_dir: Path) -> Path:
    """3 s of h264 with Opus in Matroska."""
    return ffmpeg_make(media_dir / "clip.mkv", *_video(3), *_sine(330, 3, 48000), *X264, "-c:a", "libopus")


@pytest.fixture(scope="session")
def wav(media_dir: Path) -> Path:
    """3 s of stereo 44.1 kHz PCM."""
    return ffmpeg_make(media_dir / "audio.wav", *_sine(300, 3, 44100, "stereo"), "-c:a", "pcm_s16le")


@pytest.fixture(scope="session")
def mp3(media_dir: Path) -> Path:
    """3 s of mono MP3 at 22.05 kHz."""
    return ffmpeg_make(media_dir / "audio.mp3", *_sine(500, 3, 22050), "-c:a", "libmp3lame", "-b:a", "64k")


@pytest.fixture(scope="session")
def mono8k(media_dir: Path) -> Path:
    """3 s of 8 kHz mono in an MP4 (phone-call audio) with video."""
    return ffmpeg_make(
        media_dir / "mono8k.mp4", *_video(3), *_sine(400, 3, 8000), *X264, "-c:a", "aac", "-shortest"
    )


@pytest.fixture(scope="session")
def surround(media_dir: Path) -> Path:
    """3 s of h264 with 5.1 AAC at 48 kHz."""
    return ffmpeg_make(
        media_dir / "surround.mp4",
        *_video(3),
        *_sine(250, 3, 48000, "5.1"),
        *X264,
        "-c:a",
        "aac",
        "-shortest",
    )


@pytest.fixture(scope="session")
def silent_video(media_dir: Path) -> Path:
    """2 s of h264 and no audio stream."""
    return ffmpeg_make(media_dir / "silent.mp4", *_video(2), *X264)


@pytest.fixture(scope="session")
def cover_art_mp3(media_dir: Path, mp3: Path) -> Path:
    """An MP3 with a PNG cover picture (attached_pic)."""
    picture = ffmpeg_make(media_dir / "cover.png", "-f", "lavfi", "-i", "color=red:s=64x64", "-frames:v", "1")
    return ffmpeg_make(
        media_dir / "cover.mp3",
        "-i",
        str(mp3),
        "-i",
        str(picture),
        "-map",
        "0:a",
        "-map",
        "1:v",
        "-c",
        "copy",
        "-disposition:v",
        "attached_pic",
        "-id3v2_version",
        "3",
    )


@pytest.fixture
def sine_wav(tmp_path: Path) -> Callable[..., Path]:
    """Make a sine WAV: ``sine_wav(name, freq, seconds, rate=22050, volume=0.5, layout=None)``."""

    def make(
        name: str,
        freq: int,
        seconds: float,
        rate: int = 22050,
        volume: float = 0.5,
        layout: str | None = None,
    ) -> Path:
        filters = f"volume={volume}" + (f",aformat=channel_layouts={layout}" if layout else "")
        return ffmpeg_make(tmp_path / name, *_sine(freq, seconds, rate), "-af", filters, "-c:a", "pcm_s16le")

    return make


# --- reading samples (no numpy) ---------------------------------------------------------------------


def read_samples(path: Path) -> tuple[int, int, array.array[int]]:
    """(rate, channels, interleaved s16 samples) of any WAV (decoded by ffmpeg to raw s16le)."""
    from dubkit.media import read_wav_info

    info = read_wav_info(path)
    raw = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-f", "s16le", "-acodec", "pcm_s16le", "-"],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    ).stdout
    data = array.array("h", raw)
    if sys.byteorder != "little":  # pragma: no cover
        data.byteswap()
    return info.sample_rate, info.channels, data


def rms(path: Path, start: float, end: float, channel: int | None = None) -> float:
    """Root mean square (0-1) of ``[start, end)`` seconds, of one channel or all."""
    rate, channels, data = read_samples(path)
    window = data[int(start * rate) * channels : int(end * rate) * channels]
    values = window if channel is None else window[channel::channels]
    if not values:
        return 0.0
    return math.sqrt(sum(v * v for v in values) / len(values)) / 32768.0


def tone_level(path: Path, freq: float, start: float, end: float) -> float:
    """Amplitude of one frequency in ``[start, end)`` of the first channel (Goertzel)."""
    rate, channels, data = read_samples(path)
    values = data[int(start * rate) * channels : int(end * rate) * channels : channels]
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    s_prev = s_prev2 = 0.0
    for value in values:
        s_prev, s_prev2 = value / 32768.0 + coeff * s_prev - s_prev2, s_prev
    power = s_prev2 * s_prev2 + s_prev * s_prev - coeff * s_prev * s_prev2
    return 2 * math.sqrt(max(power, 0.0)) / max(1, len(values))


def ffprobe_json(path: Path, *entries: str) -> dict[str, Any]:
    import json

    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", ":".join(entries), "-of", "json", str(path)],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    ).stdout
    result: dict[str, Any] = json.loads(out)
    return result


def write_wav_header(
    path: Path, *, rate: int, channels: int, bits: int, data_size: int, payload: bytes
) -> Path:
    """A PCM WAV whose header claims ``data_size`` bytes of data but holds only ``payload``."""
    block = channels * bits // 8
    header = b"RIFF" + struct.pack("<I", 36 + len(payload)) + b"WAVE"
    header += b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, bits)
    header += b"data" + struct.pack("<I", data_size)
    path.write_bytes(header + payload)
    return path


# --- a TCP listener that records connections ---------------------------------------------------------


class Listener:
    """A TCP server on 127.0.0.1 that accepts and records every connection, in a thread."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.05)
        self.port: int = self.sock.getsockname()[1]
        self.connections: list[tuple[str, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, address = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections.append(address)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


class Tripwire:
    """A named pipe that records whether anything opened it for reading (then feeds it a secret).

    Opening a FIFO for writing without blocking succeeds only while a reader has it open, so a thread
    polling that open notices any reader.
    """

    def __init__(self, path: Path, secret: str) -> None:
        os.mkfifo(path)
        self.path = path
        self.opened = False
        self._secret = secret.encode()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.wait(0.005):
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                continue
            self.opened = True
            with contextlib.suppress(OSError):
                os.write(fd, self._secret * 10)
            os.close(fd)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def tripwire(tmp_path: Path) -> Iterator[Tripwire]:
    wire = Tripwire(tmp_path / "tripwire.ts", "TRIPWIRE-SECRET")
    yield wire
    wire.close()


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = Listener()
    yield server
    server.close()


@pytest.fixture(name="read_samples")
def _read_samples() -> Callable[[Path], tuple[int, int, array.array[int]]]:
    return read_samples


@pytest.fixture(name="rms")
def _rms() -> Callable[..., float]:
    return rms


@pytest.fixture(name="tone_level")
def _tone_level() -> Callable[..., float]:
    return tone_level


@pytest.fixture(name="ffprobe_json")
def _ffprobe_json() -> Callable[..., dict[str, Any]]:
    return ffprobe_json


@pytest.fixture(name="write_wav_header")
def _write_wav_header() -> Callable[..., Path]:
    return write_wav_header


@pytest.fixture(name="make_media")
def _make_media() -> Callable[..., Path]:
    return ffmpeg_make
