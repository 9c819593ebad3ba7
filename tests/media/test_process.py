"""Confined runs: timeout kills the whole process group, resource limits apply, stderr is cut and cleaned."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import BinaryIO

import pytest

from dubkit.errors import FFmpegError, FFmpegNotFoundError
from dubkit.media import ProcessLimits, default_ffmpeg, find_ffmpeg
from dubkit.media.binaries import parse_version
from dubkit.media.process import open_feed, run_process

PY = sys.executable


def test_runs_and_captures(tmp_path: Path) -> None:
    run = run_process([PY, "-c", "import os; print(os.getcwd())"], cwd=tmp_path, limits=ProcessLimits())
    assert run.returncode == 0
    assert run.stdout.decode().strip() == str(tmp_path)


def test_failure_carries_a_clean_stderr_tail(tmp_path: Path) -> None:
    code = "import sys\nfor i in range(500): print(f'line {i}\\x1b[31m\\x07', file=sys.stderr)\nsys.exit(3)"
    with pytest.raises(FFmpegError) as caught:
        run_process([PY, "-c", code], cwd=tmp_path, limits=ProcessLimits(stderr_lines=5))
    error = caught.value
    assert error.returncode == 3
    assert error.stderr_tail.splitlines() == [f"line {i}?[31m?" for i in range(495, 500)]


def test_no_stdin_and_no_shell(tmp_path: Path) -> None:
    run = run_process(
        [PY, "-c", "import sys; print(repr(sys.stdin.read()))"], cwd=tmp_path, limits=ProcessLimits()
    )
    assert run.stdout.decode().strip() == "''"
    run = run_process(["echo", "$HOME", ";", "rm", "-rf", "x"], cwd=tmp_path, limits=ProcessLimits())
    assert run.stdout.decode().strip() == "$HOME ; rm -rf x"


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (killed, not yet reaped by an init that may never reap) is dead."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_timeout_kills_the_process_group(tmp_path: Path) -> None:
    marker = tmp_path / "grandchild.pid"
    code = (
        "import subprocess, sys, time\n"
        f"child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(marker)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n"
    )
    start = time.monotonic()
    with pytest.raises(FFmpegError) as caught:
        run_process([PY, "-c", code], cwd=tmp_path, limits=ProcessLimits(timeout_s=3.0))
    assert time.monotonic() - start < 30  # stopped at its 3 s timeout, not after the child's 60 s
    assert caught.value.timed_out
    assert caught.value.returncode is None
    grandchild = int(marker.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(grandchild):
        time.sleep(0.05)
    assert not _alive(grandchild), "the grandchild survived the timeout"


def test_resource_limits_are_set_in_the_child(tmp_path: Path) -> None:
    code = (
        "import resource as r\n"
        "print(*(r.getrlimit(k)[0] for k in (r.RLIMIT_AS, r.RLIMIT_CPU, r.RLIMIT_FSIZE, r.RLIMIT_CORE)))"
    )
    limits = ProcessLimits(address_space=3 << 30, cpu_seconds=77, file_size=5 << 20)
    run = run_process([PY, "-c", code], cwd=tmp_path, limits=limits)
    assert run.stdout.split() == [str(3 << 30).encode(), b"77", str(5 << 20).encode(), b"0"]


def test_file_size_limit_stops_a_runaway_writer(tmp_path: Path) -> None:
    code = (
        "import signal; signal.signal(signal.SIGXFSZ, signal.SIG_DFL)\n"
        "open('big', 'wb').write(bytes(1 << 22))"
    )
    with pytest.raises(FFmpegError) as caught:
        run_process([PY, "-c", code], cwd=tmp_path, limits=ProcessLimits(file_size=1 << 20))
    assert "SIGXFSZ" in str(caught.value)
    assert (tmp_path / "big").stat().st_size <= 1 << 20


def test_stdout_is_capped(tmp_path: Path) -> None:
    code = "import sys\nwhile True: sys.stdout.write('x' * 65536)"
    with pytest.raises(FFmpegError, match="more than"):
        run_process([PY, "-c", code], cwd=tmp_path, limits=ProcessLimits(stdout_bytes=1 << 20, timeout_s=10))


def test_feeds_stream_into_pipes(tmp_path: Path) -> None:
    def source(sink: BinaryIO) -> None:
        for _ in range(100):
            sink.write(b"a" * 100_000)

    feed = open_feed(source)
    code = f"import os\nn = 0\nwhile chunk := os.read({feed.read_fd}, 1 << 16): n += len(chunk)\nprint(n)"
    run = run_process([PY, "-c", code], cwd=tmp_path, limits=ProcessLimits(), feeds=[feed])
    assert run.stdout.strip() == b"10000000"


def test_a_reader_that_stops_early_does_not_hang(tmp_path: Path) -> None:
    def source(sink: BinaryIO) -> None:
        while True:
            sink.write(bytes(1 << 16))

    feed = open_feed(source)
    run = run_process(
        [PY, "-c", f"import os; os.read({feed.read_fd}, 10)"],
        cwd=tmp_path,
        limits=ProcessLimits(),
        feeds=[feed],
    )
    assert run.returncode == 0


def test_missing_program(tmp_path: Path) -> None:
    with pytest.raises(FFmpegError, match="could not start"):
        run_process(["/nonexistent/ffmpeg", "-version"], cwd=tmp_path, limits=ProcessLimits())


def test_find_ffmpeg(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("INFO", logger="dubkit")
    found = find_ffmpeg()
    assert found.ffmpeg.is_absolute() and found.ffprobe.is_absolute()
    assert found.version_tuple is not None and found.version_tuple >= (5, 1, 0)
    assert found.version in caplog.text
    assert default_ffmpeg() is default_ffmpeg()


def test_missing_ffmpeg_is_a_typed_error() -> None:
    with pytest.raises(FFmpegNotFoundError) as caught:
        find_ffmpeg("ffmpeg-that-does-not-exist")
    assert caught.value.binary == "ffmpeg-that-does-not-exist"
    assert "apt-get install ffmpeg" in str(caught.value)


def test_parse_version() -> None:
    assert parse_version("ffmpeg version 5.1.9-0+deb12u1 Copyright") == (5, 1, 9)
    assert parse_version("ffmpeg version n6.0 Copyright") == (6, 0, 0)
    assert parse_version("ffmpeg version N-112233-gabcdef Copyright") is None


@pytest.mark.parametrize("impostor", ["ffmpeg", "ffprobe"])
def test_a_binary_that_is_not_ffmpeg_is_a_typed_error(impostor: str, tmp_path: Path) -> None:
    fake = tmp_path / "fake"
    fake.write_text("#!/bin/sh\necho 'not a media tool'\nexit 3\n")
    fake.chmod(0o755)
    names = {"ffmpeg": "ffmpeg", "ffprobe": "ffprobe", impostor: str(fake)}
    with pytest.raises(FFmpegError, match="fake -version failed") as caught:
        find_ffmpeg(names["ffmpeg"], names["ffprobe"])
    assert caught.value.returncode == 3
