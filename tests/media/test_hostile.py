"""Playlists and concat scripts disguised as video: rejected, with no file read and no connection made.

An HLS playlist or an ffconcat script is detected by ffmpeg from its content whatever its name, and would
make ffmpeg open other local files or URLs. Each script points at a tripwire (a named pipe that notices
being opened), a sentinel file holding a secret, and a TCP listener on 127.0.0.1. The tripwire must stay
untouched, the secret must appear in no output, log or error, and the listener must see no connection.
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dubkit.errors import FFmpegError, MediaError, UnsupportedFormatError
from dubkit.media import FFmpeg, extract_audio, probe
from dubkit.models.media import MediaInfo, StreamInfo


def _hls(port: int, *, network_first: bool = False) -> str:
    segments = ["tripwire.ts", "sentinel.ts", "file:{sentinel}", f"http://127.0.0.1:{port}/segment.ts"]
    if network_first:
        segments.reverse()
    body = "".join(f"#EXTINF:10.0,\n{segment}\n" for segment in segments)
    return f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n{body}#EXT-X-ENDLIST\n"


def _ffconcat(port: int) -> str:
    return (
        "ffconcat version 1.0\n"
        "file tripwire.ts\n"
        "file sentinel.ts\n"
        "file '{sentinel}'\n"
        f"file 'http://127.0.0.1:{port}/clip.mp4'\n"
    )


SCRIPTS: dict[str, Callable[[int], str]] = {
    "hls": _hls,
    "hls-network-first": functools.partial(_hls, network_first=True),
    "ffconcat": _ffconcat,
}


def _everything_said(error: BaseException, caplog: pytest.LogCaptureFixture) -> str:
    said = [caplog.text, str(error), repr(error)]
    cause: BaseException | None = error
    while cause is not None:
        said += [str(cause), repr(vars(cause))]
        cause = cause.__cause__
    return "\n".join(said)


@pytest.fixture
def sentinel(tmp_path: Path, make_media: Callable[..., Path]) -> tuple[Path, str]:
    """A local file the attacker wants read: valid MPEG-TS audio (so a demuxer that follows the script
    would succeed, which the tests would notice), tagged with a secret, with the secret appended."""
    secret = f"TOP-SECRET-{secrets.token_hex(8)}"
    path = make_media(
        tmp_path / "sentinel.ts",
        "-f",
        "lavfi",
        "-i",
        "sine=d=2",
        "-c:a",
        "aac",
        "-metadata",
        f"service_name={secret}",
        "-metadata",
        f"title={secret}",
        "-f",
        "mpegts",
    )
    with path.open("ab") as handle:
        handle.write(f"{secret}\n".encode() * 10)
    return path, secret


@pytest.mark.parametrize("kind", ["hls", "hls-network-first", "ffconcat"])
@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_rejected_at_probe_without_leaks(
    kind: str,
    suffix: str,
    tmp_path: Path,
    ffmpeg: FFmpeg,
    listener: Any,
    tripwire: Any,
    sentinel: tuple[Path, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sentinel_path, secret = sentinel
    script = SCRIPTS[kind](listener.port).replace("{sentinel}", str(sentinel_path))
    hostile = tmp_path / f"upload{suffix}"
    hostile.write_text(script)
    before = set(tmp_path.iterdir())
    caplog.set_level(logging.DEBUG, logger="dubkit")

    with pytest.raises(UnsupportedFormatError) as caught:
        probe(hostile, ffmpeg=ffmpeg)

    assert caught.value.format_name == ("concat" if kind == "ffconcat" else "hls")
    assert secret not in _everything_said(caught.value, caplog)
    assert set(tmp_path.iterdir()) == before  # nothing written
    assert not tripwire.opened
    assert listener.connections == []


def test_forced_demuxer_protects_calls_that_skip_probe(
    tmp_path: Path,
    ffmpeg: FFmpeg,
    listener: Any,
    tripwire: Any,
    sentinel: tuple[Path, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A MediaInfo that lies (as if probe were bypassed): ffmpeg still reads the file as MP4 only.
    sentinel_path, secret = sentinel
    hostile = tmp_path / "upload.mp4"
    hostile.write_text(_hls(listener.port).replace("{sentinel}", str(sentinel_path)))
    fake = MediaInfo(
        path=hostile,
        format_name="mov,mp4,m4a,3gp,3g2,mj2",
        duration=30.0,
        size=hostile.stat().st_size,
        streams=(StreamInfo(index=0, kind="audio", codec="aac", sample_rate=48000, channels=2),),
    )
    caplog.set_level(logging.DEBUG, logger="dubkit")
    with pytest.raises(FFmpegError) as caught:
        extract_audio(fake, tmp_path / "out", ffmpeg=ffmpeg)
    assert secret not in _everything_said(caught.value, caplog)
    assert not list((tmp_path / "out").iterdir())  # no half-written tracks
    assert not tripwire.opened
    assert listener.connections == []


def test_a_lying_format_name_is_refused(tmp_path: Path, ffmpeg: FFmpeg) -> None:
    hostile = tmp_path / "upload.mp4"
    hostile.write_text("#EXTM3U\n")
    fake = MediaInfo(
        path=hostile,
        format_name="hls,applehttp",
        duration=1.0,
        size=8,
        streams=(StreamInfo(index=0, kind="audio", codec="aac"),),
    )
    with pytest.raises(UnsupportedFormatError):
        extract_audio(fake, tmp_path / "out", ffmpeg=ffmpeg)


def test_probe_error_carries_no_file_content(
    tmp_path: Path, ffmpeg: FFmpeg, caplog: pytest.LogCaptureFixture
) -> None:
    secret = f"SECRET-{secrets.token_hex(8)}"
    text = tmp_path / "notes.avi"
    text.write_text(f"RIFF{secret}AVI LIST {secret}\n" * 20)
    caplog.set_level(logging.DEBUG, logger="dubkit")
    with pytest.raises(MediaError) as caught:
        probe(text, ffmpeg=ffmpeg)
    assert secret not in _everything_said(caught.value, caplog)
