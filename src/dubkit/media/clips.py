"""Rendering clips for the mix: stretched, gained, converted to the track's format as raw float PCM.

Identical renders (same file, stretch and gain) are made once. Clips are rendered a batch per ffmpeg run
(one filter chain per clip, one output per clip), batches in parallel; Rubber Band runs first where a clip
is stretched and it is installed. The result is each clip's placement on the timeline and the dub's level.
"""

from __future__ import annotations

import array
import concurrent.futures
import logging
import math
import operator
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import ffmpeg as ffmpeg_python

from dubkit.errors import ConfigError
from dubkit.media.binaries import FFmpeg
from dubkit.media.command import ffmpeg_argv, file_url, media_input
from dubkit.media.process import run_process
from dubkit.media.stretch import StretchEngine, atempo_factors, check_tempo, find_rubberband, stretch
from dubkit.media.timeline import Placement
from dubkit.models.speech import Clip, ClipTiming, TimingPlan

__all__ = ["RenderedClips", "TrackFormat", "render_clips"]

logger = logging.getLogger(__name__)

MAX_GAIN_DB = 40.0
_LEVEL_STRIDE = 7  # measure the level on every 7th sample: plenty for an average, and fast
_READ_BLOCK = 1 << 20


@attrs.frozen(slots=True)
class TrackFormat:
    """The format of the dubbed track: the original's rate, layout and length.

    Attributes:
        sample_rate: Hz.
        channels: Channel count.
        layout: ffmpeg's layout name, or ``None`` when there is none for the count.
        frames: Length in sample frames.
    """

    sample_rate: int
    channels: int
    layout: str | None
    frames: int

    @property
    def frame_bytes(self) -> int:
        """Bytes per frame of float samples."""
        return self.channels * 4

    @property
    def layout_name(self) -> str:
        """What ``aformat`` accepts: the layout, or ``<n>c`` without one."""
        return self.layout or f"{self.channels}c"

    def raw_options(self) -> dict[str, Any]:
        """Options of the raw float demuxer that reads this format from a pipe."""
        layout = {"ch_layout": self.layout} if self.layout else {"channels": self.channels}
        return {"f": "f32le", "sample_rate": self.sample_rate, **layout}


@attrs.frozen(slots=True)
class RenderedClips:
    """Clips ready to lay on the timeline.

    Attributes:
        placements: Each clip's place and raw file (several placements may share a file).
        level_db: RMS level of the dub where clips play, dBFS (``-inf`` when all are silent).
    """

    placements: tuple[Placement, ...]
    level_db: float


@attrs.frozen(slots=True)
class _Render:
    source: Path
    stretch: float
    gain_db: float
    raw: Path


def _checked(timing: ClipTiming, clips: dict[str, Clip]) -> Clip:
    clip = clips.get(timing.segment_id)
    if clip is None:
        raise ConfigError(f"the plan places segment {timing.segment_id!r} but it has no clip", field="clips")
    if not (math.isfinite(timing.start) and timing.start >= 0):
        raise ConfigError(f"segment {timing.segment_id!r} starts at {timing.start!r}", field="plan")
    if not (math.isfinite(timing.gain_db) and abs(timing.gain_db) <= MAX_GAIN_DB):
        raise ConfigError(f"segment {timing.segment_id!r} has gain {timing.gain_db!r} dB", field="plan")
    check_tempo(timing.stretch)
    return clip


def _render_batch(batch: Sequence[_Render], track: TrackFormat, ffmpeg: FFmpeg, cwd: Path) -> None:
    outputs = []
    for job in batch:
        audio = media_input(job.source, "wav", ffmpeg=ffmpeg).audio
        for factor in atempo_factors(job.stretch):
            audio = audio.filter("atempo", f"{factor:.9g}")
        if job.gain_db:
            audio = audio.filter("volume", f"{job.gain_db:.3f}dB")
        audio = audio.filter("aresample", track.sample_rate).filter(
            "aformat", sample_fmts="flt", channel_layouts=track.layout_name
        )
        outputs.append(ffmpeg_python.output(audio, file_url(job.raw), f="f32le", acodec="pcm_f32le"))
    argv = ffmpeg_argv(ffmpeg, ffmpeg_python.merge_outputs(*outputs))
    run_process(argv, cwd=cwd, limits=ffmpeg.limits, path=batch[0].source)


def _energy(raw: Path) -> tuple[float, int]:
    """(sum of squares, count) over every ``_LEVEL_STRIDE``-th float sample of a raw file."""
    total, count = 0.0, 0
    with raw.open("rb") as handle:
        while block := handle.read(_READ_BLOCK):
            samples = array.array("f")
            samples.frombytes(block[: len(block) - len(block) % 4])
            if sys.byteorder != "little":  # pragma: no cover
                samples.byteswap()
            picked = samples[::_LEVEL_STRIDE]
            total += math.fsum(map(operator.mul, picked, picked))
            count += len(picked)
    return total, count


def _level_db(renders: dict[Path, int]) -> float:
    """RMS of all placed clips together (each raw file weighted by how often it is placed), dBFS."""
    total, count = 0.0, 0
    for raw, uses in renders.items():
        energy, samples = _energy(raw)
        total += energy * uses
        count += samples * uses
    return 10 * math.log10(total / count) if total > 0 and count else -math.inf


def render_clips(
    plan: TimingPlan,
    clips: Sequence[Clip],
    track: TrackFormat,
    *,
    temp: Path,
    stretch_engine: StretchEngine,
    workers: int,
    batch_size: int,
    ffmpeg: FFmpeg,
    cwd: Path,
) -> RenderedClips:
    """Render every clip the plan places (clips starting after the track's end are left out, with a warning).

    Raises:
        ConfigError: A timing without a clip, a negative start, an unusable stretch or gain, or Rubber Band
            asked for but not installed.
        FFmpegError: ffmpeg or Rubber Band failed or timed out.
    """
    rubberband = find_rubberband() if stretch_engine != "atempo" else None
    if stretch_engine == "rubberband" and rubberband is None:
        raise ConfigError(
            "Rubber Band is not installed (apt-get install rubberband-cli)", field="stretch_engine"
        )
    by_id = {clip.segment_id: clip for clip in clips}
    renders: dict[tuple[Path, float, float], _Render] = {}
    placed: list[tuple[ClipTiming, _Render]] = []
    for timing in plan.timings:
        clip = _checked(timing, by_id)
        if round(timing.start * track.sample_rate) >= track.frames:
            logger.warning("segment %s starts after the end of the track; left out", timing.segment_id)
            continue
        key = (clip.path, timing.stretch, timing.gain_db)
        if key not in renders:
            renders[key] = _Render(
                clip.path, timing.stretch, timing.gain_db, temp / f"clip{len(renders):05d}.f32"
            )
        placed.append((timing, renders[key]))
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        jobs = list(renders.values())
        if rubberband is not None:  # stretch with Rubber Band first; the render then only converts
            stretched = [
                pool.submit(
                    stretch,
                    job.source,
                    job.raw.with_suffix(".wav"),
                    job.stretch,
                    engine="rubberband",
                    rubberband=rubberband,
                    ffmpeg=ffmpeg,
                    cwd=cwd,
                )
                if not math.isclose(job.stretch, 1.0)
                else None
                for job in jobs
            ]
            jobs = [
                job if future is None else attrs.evolve(job, source=future.result(), stretch=1.0)
                for job, future in zip(jobs, stretched, strict=True)
            ]
        size = max(1, batch_size)
        batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        for future in [pool.submit(_render_batch, batch, track, ffmpeg, cwd) for batch in batches]:
            future.result()
    frames = {job.raw: job.raw.stat().st_size // track.frame_bytes for job in renders.values()}
    placements = tuple(
        Placement(round(timing.start * track.sample_rate), frames[job.raw], job.raw, timing.segment_id)
        for timing, job in placed
    )
    uses: dict[Path, int] = {}
    for _, job in placed:
        uses[job.raw] = uses.get(job.raw, 0) + 1
    level = _level_db(uses)
    logger.debug("rendered %d clips (%d distinct); dub level %.1f dBFS", len(placed), len(renders), level)
    return RenderedClips(placements, level)
