"""Finding ffmpeg and ffprobe, and checking their version once.

An `FFmpeg` value holds the two binaries' paths, the version they report and the resource limits
every run gets. The caller creates it (with `find_ffmpeg`) and passes it along; `default_ffmpeg`
caches one for callers that do not care.
"""

from __future__ import annotations

import functools
import logging
import re
import shutil
import subprocess
from pathlib import Path

import attrs

from dubkit.errors import FFmpegError, FFmpegNotFoundError
from dubkit.media.process import ProcessLimits

__all__ = ["MINIMUM_VERSION", "FFmpeg", "default_ffmpeg", "find_ffmpeg", "parse_version"]

logger = logging.getLogger(__name__)

#: The oldest ffmpeg release dubkit supports (raw PCM input with ``ch_layout``, first in 5.1).
MINIMUM_VERSION: tuple[int, int] = (5, 1)

_VERSION_RE = re.compile(r"^\S+ version n?(\d+)\.(\d+)(?:\.(\d+))?")


@attrs.frozen(slots=True)
class FFmpeg:
    """The ffmpeg and ffprobe binaries dubkit runs, and how it runs them.

    Attributes:
        ffmpeg: Absolute path of ``ffmpeg``.
        ffprobe: Absolute path of ``ffprobe``.
        version: The version string ffmpeg reports (``5.1.9-0+deb12u1``).
        limits: Resource limits and timeout applied to every run.
    """

    ffmpeg: Path
    ffprobe: Path
    version: str
    limits: ProcessLimits = attrs.field(factory=ProcessLimits)

    @property
    def version_tuple(self) -> tuple[int, int, int] | None:
        """``(major, minor, patch)``, or ``None`` for builds that report no release number (git snapshots)."""
        return parse_version(f"ffmpeg version {self.version}")

    def with_limits(self, limits: ProcessLimits) -> FFmpeg:
        """A copy of this value that runs with other limits."""
        return attrs.evolve(self, limits=limits)


def parse_version(banner: str) -> tuple[int, int, int] | None:
    """The release number in the first line of ``ffmpeg -version``, or ``None`` when it has none."""
    match = _VERSION_RE.match(banner.strip())
    if match is None:
        return None
    return int(match[1]), int(match[2]), int(match[3] or 0)


def _which(name: str) -> Path:
    found = shutil.which(name)
    if found is None:
        raise FFmpegNotFoundError(name)
    return Path(found).absolute()


def _versions_of(*binaries: Path) -> list[str]:
    """The version each binary reports, asked of all of them at once (a start-up cost of every command)."""
    running: list[subprocess.Popen[bytes]] = []
    try:
        for binary in binaries:
            running.append(
                subprocess.Popen(
                    [str(binary), "-hide_banner", "-version"],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            )
        outputs = [process.communicate(timeout=30)[0] for process in running]
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise FFmpegError(f"{binaries[len(running) - 1].name} -version failed: {exc}") from exc
    finally:
        for process in running:
            if process.poll() is None:
                process.kill()
                process.wait()
    versions = []
    for binary, process, output in zip(binaries, running, outputs, strict=True):
        first_line = output.decode("utf-8", "replace").partition("\n")[0]
        if process.returncode != 0 or " version " not in first_line:
            raise FFmpegError(
                f"{binary.name} -version failed", returncode=process.returncode, stderr_tail=first_line[:200]
            )
        versions.append(first_line.split(" version ", 1)[1].split(" ", 1)[0])
    return versions


def find_ffmpeg(
    ffmpeg: str = "ffmpeg", ffprobe: str = "ffprobe", *, limits: ProcessLimits | None = None
) -> FFmpeg:
    """Locate ffmpeg and ffprobe (on PATH, or at the paths given), check their version and log it.

    Args:
        ffmpeg: Name or path of the ffmpeg binary.
        ffprobe: Name or path of the ffprobe binary.
        limits: Resource limits for every run; the defaults of `ProcessLimits` when ``None``.

    Returns:
        The binaries, their version and the limits.

    Raises:
        FFmpegNotFoundError: A binary is missing.
        FFmpegError: A binary does not run, or is older than `MINIMUM_VERSION`.
    """
    ffmpeg_path = _which(ffmpeg)
    ffprobe_path = _which(ffprobe)
    version, probe_version = _versions_of(ffmpeg_path, ffprobe_path)
    found = FFmpeg(ffmpeg_path, ffprobe_path, version, limits or ProcessLimits())
    release = found.version_tuple
    if release is not None and release[:2] < MINIMUM_VERSION:
        raise FFmpegError(
            f"ffmpeg {version} is too old: dubkit needs {'.'.join(map(str, MINIMUM_VERSION))} or newer"
        )
    if probe_version != version:
        logger.warning("ffmpeg %s and ffprobe %s differ in version", version, probe_version)
    logger.info("using ffmpeg %s at %s (ffprobe at %s)", version, ffmpeg_path, ffprobe_path)
    return found


@functools.cache
def default_ffmpeg() -> FFmpeg:
    """The ffmpeg found on PATH, with default limits; looked up on first call and then reused.

    Raises:
        FFmpegNotFoundError: ffmpeg or ffprobe is missing.
        FFmpegError: ffmpeg does not run or is too old.
    """
    return find_ffmpeg()
