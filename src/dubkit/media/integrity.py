"""A fast check that a probed file really holds what its header claims.

ffprobe reads headers: a truncated MP4 whose index (moov) sits at the front still reports its full length.
So probe also runs one short ffmpeg pass that decodes the first half second and reads (without decoding)
the packets of the last two seconds. A file fails when its end yields no packet, when its data stops well
before the length its header claims, or when the demuxer or decoder reports truncation or corruption.
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

import ffmpeg as ffmpeg_python

from dubkit.errors import CorruptMediaError, FFmpegError
from dubkit.media.binaries import FFmpeg
from dubkit.media.command import ffmpeg_argv, media_input
from dubkit.media.process import ProcessLimits, run_process
from dubkit.models.media import MediaInfo

__all__ = ["check_integrity"]

logger = logging.getLogger(__name__)

HEAD_SECONDS = 0.5
TAIL_SECONDS = 2.0
#: How far before the claimed end the data may stop (containers round; a liar claims hours it lacks).
END_TOLERANCE = 1.0

_TIME_BASE = re.compile(r"#tb (?P<stream>\d+): (?P<num>\d+)/(?P<den>\d+)")

#: Fragments of ffmpeg messages that mean the file is cut short or damaged.
_CORRUPTION_MARKERS = (
    "partial file",
    "corrupt",
    "truncat",
    "invalid nal unit size",
    "error while decoding",
    "invalid data found",
    "moov atom not found",
    "error splitting the input",
    "header missing",
)


def _markers(stderr: str) -> list[str]:
    lowered = stderr.lower()
    return [marker for marker in _CORRUPTION_MARKERS if marker in lowered]


def _tail_end(framecrc: bytes) -> tuple[int, float]:
    """(packets, end of the last one in seconds after the seek point) from ffmpeg's framecrc output."""
    time_bases: dict[int, float] = {}
    packets, end = 0, -math.inf
    for raw in framecrc.decode("ascii", "replace").splitlines():
        if match := _TIME_BASE.match(raw):
            numerator, denominator = int(match["num"]), int(match["den"])
            time_bases[int(match["stream"])] = numerator / denominator if denominator else 0.0
            continue
        if raw.startswith("#") or not raw.strip():
            continue
        fields = [field.strip() for field in raw.split(",")]
        try:
            stream, dts, pts, duration = (int(field) for field in fields[:4])
        except ValueError:
            continue
        packets += 1
        end = max(end, (max(dts, pts) + duration) * time_bases.get(stream, 0.0))
    return packets, end


def check_integrity(
    info: MediaInfo, demuxer: str, *, ffmpeg: FFmpeg, limits: ProcessLimits, cwd: Path
) -> None:
    """Decode the head and read the tail of a probed file.

    Args:
        info: What probe found.
        demuxer: The short demuxer name to force.
        ffmpeg: The binaries.
        limits: Limits for this run (probe's short timeout).
        cwd: Working directory.

    Raises:
        CorruptMediaError: The file is truncated or damaged.
        FFmpegError: The check itself failed to run or timed out.
    """
    chosen = [s for s in (info.video_streams[:1] + info.audio_streams[:1])]
    codecs = [s.codec for s in chosen]
    head = media_input(info.path, demuxer, ffmpeg=ffmpeg, codecs=codecs, t=HEAD_SECONDS)
    tail = media_input(info.path, demuxer, ffmpeg=ffmpeg, codecs=codecs, sseof=-TAIL_SECONDS)
    decoded = ffmpeg_python.output(*(head[str(s.index)] for s in chosen), "-", f="null")
    copied = ffmpeg_python.output(*(tail[str(s.index)] for s in chosen), "pipe:1", f="framecrc", c="copy")
    argv = ffmpeg_argv(ffmpeg, ffmpeg_python.merge_outputs(decoded, copied))
    try:
        run = run_process(argv, cwd=cwd, limits=limits, check=False, path=info.path)
    except FFmpegError as exc:
        if exc.timed_out:
            raise
        raise CorruptMediaError("the file could not be read", path=str(info.path)) from exc
    packets, end = _tail_end(run.stdout)
    found = _markers(run.stderr_tail)
    logger.debug(
        "integrity of %s: %d tail packets ending at %.3f s, markers %s", info.path, packets, end, found
    )
    expected_end = min(TAIL_SECONDS, info.duration)  # the seek point is time 0 (or the start, if earlier)
    short = packets > 0 and end < expected_end - END_TOLERANCE
    if run.returncode != 0 or found or packets == 0 or short:
        if found:
            reason = ", ".join(found)
        elif packets == 0:
            reason = "no data at its end"
        elif short:
            reason = f"its data ends {expected_end - end:.1f} s before the length it claims"
        else:
            reason = f"exit status {run.returncode}"
        raise CorruptMediaError(
            f"the file is truncated or corrupt ({reason})",
            path=str(info.path),
            hint="re-export or re-upload the original file",
        )
