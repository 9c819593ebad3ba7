"""Running ffmpeg, ffprobe and friends as confined subprocesses.

Every run is an argv list (never a shell), with stdin closed, in a working directory the caller names
(the job's own folder), in a new session so that a wall-clock timeout can kill the whole process group,
and under resource limits set in the child before ``exec``: address space, CPU seconds, size of any file
written, no core dumps. Only the tail of stderr is kept, cleaned of control characters; stdout is capped.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import attrs

from dubkit.errors import FFmpegError

__all__ = ["CompletedRun", "Feed", "ProcessLimits", "open_feed", "run_process"]

logger = logging.getLogger(__name__)

_GIB = 1024**3
_CHUNK = 1 << 16
_MAX_LINE = 300


@attrs.frozen(slots=True)
class ProcessLimits:
    """Limits on one ffmpeg (or ffprobe, rubberband) run.

    Attributes:
        timeout_s: Wall-clock seconds before the process group is killed.
        cpu_seconds: CPU seconds (RLIMIT_CPU), all threads together.
        address_space: Bytes of virtual memory (RLIMIT_AS).
        file_size: Largest file the process may write, in bytes (RLIMIT_FSIZE).
        threads: Codec and filter threads (``-threads``, ``-filter_threads``).
        max_pixels: Largest decoded frame, in pixels (``-max_pixels``).
        stderr_lines: How many of the last stderr lines to keep for errors.
        stdout_bytes: Most stdout bytes read before the run is killed.
    """

    timeout_s: float = 3600.0
    cpu_seconds: int = 4 * 3600
    address_space: int = 4 * _GIB
    file_size: int = 16 * _GIB
    threads: int = 2
    max_pixels: int = 3840 * 2160
    stderr_lines: int = 40
    stdout_bytes: int = 64 * 1024 * 1024

    def tightened(self, *, timeout_s: float) -> ProcessLimits:
        """A copy with the timeout lowered to at most ``timeout_s`` (CPU seconds follow)."""
        timeout = min(self.timeout_s, timeout_s)
        return attrs.evolve(self, timeout_s=timeout, cpu_seconds=min(self.cpu_seconds, int(timeout * 4) + 1))


@attrs.frozen(slots=True)
class CompletedRun:
    """A finished run.

    Attributes:
        argv: What ran.
        returncode: Its exit status (negative: killed by that signal).
        stdout: What it wrote to stdout (capped).
        stderr_tail: The last lines of its stderr, control characters removed.
        elapsed: Wall-clock seconds.
    """

    argv: tuple[str, ...]
    returncode: int
    stdout: bytes
    stderr_tail: str
    elapsed: float


@attrs.define(slots=True)
class Feed:
    """A pipe that a thread fills while the process reads it as ``pipe:<read_fd>``.

    Create it with `open_feed`; `run_process` passes ``read_fd`` to the child, closes it in the
    parent, and runs ``source`` on the write end in a thread. Close it yourself only if the run never starts.
    """

    read_fd: int
    write_fd: int
    source: Callable[[BinaryIO], None]

    @property
    def url(self) -> str:
        """The input URL ffmpeg reads it from."""
        return f"pipe:{self.read_fd}"

    def close(self) -> None:
        """Close both ends (for a run that never started)."""
        for fd in (self.read_fd, self.write_fd):
            with contextlib.suppress(OSError):
                os.close(fd)


def open_feed(source: Callable[[BinaryIO], None]) -> Feed:
    """A new pipe whose write end ``source`` fills during a run."""
    read_fd, write_fd = os.pipe()
    return Feed(read_fd, write_fd, source)


def _limit_child(limits: ProcessLimits) -> Callable[[], None]:
    address_space = limits.address_space
    cpu = limits.cpu_seconds
    fsize = limits.file_size

    def apply() -> None:  # runs in the child between fork and exec
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return apply


def _clean_line(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    text = "".join(ch if ch.isprintable() or ch == "\t" else "?" for ch in text)
    return text[:_MAX_LINE]


class _Readers:
    """Threads that drain stdout (capped) and stderr (last lines only) of a running process."""

    def __init__(self, proc: subprocess.Popen[bytes], limits: ProcessLimits) -> None:
        self.stdout = bytearray()
        self.stdout_overflow = False
        self.stderr: collections.deque[str] = collections.deque(maxlen=max(1, limits.stderr_lines))
        self._cap = limits.stdout_bytes
        self._proc = proc
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _read_stdout(self) -> None:
        stream = self._proc.stdout
        assert stream is not None
        while chunk := stream.read(_CHUNK):
            if len(self.stdout) + len(chunk) > self._cap:
                self.stdout_overflow = True
                _kill_group(self._proc)
                break
            self.stdout += chunk
        stream.close()

    def _read_stderr(self) -> None:
        stream = self._proc.stderr
        assert stream is not None
        while line := stream.readline(4096):
            cleaned = _clean_line(line)
            if cleaned.strip():
                self.stderr.append(cleaned)
        stream.close()

    def join(self) -> None:
        for thread in self._threads:
            thread.join()


class _Feeders:
    """Threads that fill the feeds' pipes."""

    def __init__(self, feeds: Sequence[Feed]) -> None:
        self.errors: list[BaseException] = []
        self._threads = [threading.Thread(target=self._fill, args=(feed,), daemon=True) for feed in feeds]
        for thread in self._threads:
            thread.start()

    def _fill(self, feed: Feed) -> None:
        try:
            with os.fdopen(feed.write_fd, "wb", buffering=_CHUNK) as sink:
                feed.source(sink)
        except BrokenPipeError:
            logger.debug("reader of %s closed its end early", feed.url)
        except BaseException as exc:  # re-raised in the caller's thread
            self.errors.append(exc)

    def join(self) -> None:
        for thread in self._threads:
            thread.join()


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    limits: ProcessLimits,
    feeds: Sequence[Feed] = (),
    check: bool = True,
    path: Path | None = None,
) -> CompletedRun:
    """Run ``argv`` confined: no shell, no stdin, own session and limits, killed on timeout.

    Args:
        argv: The program and its arguments.
        cwd: Working directory (the job's own folder).
        limits: Resource limits and timeout.
        feeds: Pipes the program reads (``pipe:<fd>``), filled by threads while it runs.
        check: Raise on a non-zero exit status.
        path: The media file concerned, for error reports.

    Returns:
        The finished run.

    Raises:
        FFmpegError: It could not start, timed out, wrote too much to stdout, or (with ``check``) failed.
    """
    argv = [str(arg) for arg in argv]
    program = Path(argv[0]).name
    where = str(path) if path is not None else None
    logger.debug("running %s", argv)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
            pass_fds=tuple(feed.read_fd for feed in feeds),
            preexec_fn=_limit_child(limits),  # noqa: PLW1509 - setrlimit only; documented choice
        )
    except OSError as exc:
        for feed in feeds:
            feed.close()
        raise FFmpegError(f"could not start {program}: {exc.strerror or exc}", path=where) from exc
    for feed in feeds:
        os.close(feed.read_fd)
    readers = _Readers(proc, limits)
    feeders = _Feeders(feeds)
    # A timer kills the program at the timeout while this thread blocks in wait(): Popen.wait(timeout)
    # polls with sleeps of up to 50 ms, which each of a dub's dozen ffmpeg runs would pay on exit.
    expired = threading.Event()

    def expire() -> None:
        if proc.poll() is None:
            expired.set()
            _kill_group(proc)

    timer = threading.Timer(limits.timeout_s, expire)
    timer.daemon = True
    timer.start()
    try:
        proc.wait()
    finally:
        timer.cancel()
        if proc.returncode is None:  # interrupted (KeyboardInterrupt, ...): leave nothing behind
            _kill_group(proc)
            proc.wait()
        readers.join()
        feeders.join()
    timed_out = expired.is_set() and proc.returncode != 0
    elapsed = time.monotonic() - started
    tail = "\n".join(readers.stderr)
    returncode = proc.returncode
    if timed_out:
        raise FFmpegError(
            f"{program} timed out after {limits.timeout_s:g} s",
            returncode=None,
            stderr_tail=tail,
            timed_out=True,
            path=where,
        )
    if readers.stdout_overflow:
        raise FFmpegError(
            f"{program} wrote more than {limits.stdout_bytes} bytes to stdout",
            returncode=returncode,
            stderr_tail=tail,
            path=where,
        )
    if feeders.errors:
        raise feeders.errors[0]
    logger.debug("%s exited %s in %.2f s", program, returncode, elapsed)
    if check and returncode != 0:
        raise FFmpegError(
            _failure_message(program, returncode, limits), returncode=returncode, stderr_tail=tail, path=where
        )
    return CompletedRun(tuple(argv), returncode, bytes(readers.stdout), tail, elapsed)


def _failure_message(program: str, returncode: int, limits: ProcessLimits) -> str:
    if returncode >= 0:
        return f"{program} failed with exit status {returncode}"
    name = _signal_name(returncode)
    reason = {
        "SIGXCPU": f" (CPU limit of {limits.cpu_seconds} s)",
        "SIGXFSZ": f" (file size limit of {limits.file_size} bytes)",
    }.get(name, "")
    return f"{program} was killed by {name}{reason}"
