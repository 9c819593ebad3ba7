"""Rendering clips for the mix: stretched, gained, converted to the track's format as raw float PCM.

Identical renders (same file, stretch and gain) are made once, and with a cache folder once across mixes
(keyed by the clip's bytes and the render settings). Clips are rendered a batch per ffmpeg run (one filter
chain per clip, one output per clip), batches in parallel; Rubber Band runs first where a clip is stretched
and it is installed. Clips that need only a whole-factor upsampling and a gain (most of them: 22.05 kHz
speech on a 44.1 kHz track) are rendered in numpy instead (`dubkit.media.resample`). The result is each
clip's placement on the timeline and each render's content key.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import ffmpeg as ffmpeg_python
import numpy as np

from dubkit.errors import ConfigError, DubkitError
from dubkit.media.binaries import FFmpeg
from dubkit.media.command import ffmpeg_argv, file_url, media_input
from dubkit.media.pcm import open_pcm
from dubkit.media.process import run_process
from dubkit.media.resample import mono_upmix, upsample
from dubkit.media.stretch import StretchEngine, atempo_factors, check_tempo, find_rubberband, stretch
from dubkit.media.timeline import Placement
from dubkit.models.speech import Clip, ClipTiming, TimingPlan

__all__ = ["RenderedClips", "TrackFormat", "render_clips"]

logger = logging.getLogger(__name__)

MAX_GAIN_DB = 40.0
_RENDER_VERSION = 2
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
        keys: Each raw file's content key: a digest of what it was rendered from (the clip's bytes,
            stretch, gain, engine and the track's format).
        rendered: How many raw files were rendered now (the others came from the cache).
    """

    placements: tuple[Placement, ...]
    keys: dict[Path, str]
    rendered: int = 0


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


def _render_in_numpy(job: _Render, *, track: TrackFormat) -> bool:
    """Render an unstretched clip whose rate divides the track's, with a known upmix; ``False`` if not."""
    if not math.isclose(job.stretch, 1.0):
        return False
    try:
        pcm = open_pcm(job.source)
    except DubkitError:
        return False
    upmix = mono_upmix(track.channels, track.layout) if pcm.channels == 1 else None
    if (pcm.channels != track.channels and upmix is None) or track.sample_rate % pcm.sample_rate:
        return False
    samples = pcm.read(0, pcm.frames)
    gain = np.float32(10 ** (job.gain_db / 20))
    factor = track.sample_rate // pcm.sample_rate
    if upmix is not None:
        mono = upsample(samples[:, 0], factor) * gain
        out = mono[:, None] * upmix[None, :]
    else:
        out = np.stack([upsample(samples[:, c], factor) for c in range(pcm.channels)], axis=1) * gain
    job.raw.write_bytes(np.ascontiguousarray(out, dtype="<f4").tobytes())
    return True


def _render_key(source: Path, stretch: float, gain_db: float, track: TrackFormat, engine: str) -> str:
    digest = hashlib.sha256()
    with source.open("rb") as handle:
        while block := handle.read(_READ_BLOCK):
            digest.update(block)
    settings = (
        f"{_RENDER_VERSION}:{stretch:.9g}:{gain_db:.6g}:{engine}:"
        f"{track.sample_rate}:{track.channels}:{track.layout}"
    )
    digest.update(settings.encode())
    return digest.hexdigest()[:32]


def render_clips(
    plan: TimingPlan,
    clips: Sequence[Clip],
    track: TrackFormat,
    *,
    temp: Path,
    cache: Path | None = None,
    stretch_engine: StretchEngine,
    workers: int,
    batch_size: int,
    ffmpeg: FFmpeg,
    cwd: Path,
) -> RenderedClips:
    """Render every clip the plan places (clips starting after the track's end are left out, with a warning).

    With a ``cache`` folder, each render is kept there under its content key and reused by later mixes:
    after an edit only the edited clip is rendered again.

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
    store = cache or temp
    store.mkdir(parents=True, exist_ok=True)
    by_id = {clip.segment_id: clip for clip in clips}
    renders: dict[tuple[Path, float, float], _Render] = {}
    keys: dict[Path, str] = {}
    placed: list[tuple[ClipTiming, _Render]] = []
    for timing in plan.timings:
        clip = _checked(timing, by_id)
        if round(timing.start * track.sample_rate) >= track.frames:
            logger.warning("segment %s starts after the end of the track; left out", timing.segment_id)
            continue
        wanted = (clip.path, timing.stretch, timing.gain_db)
        if wanted not in renders:
            stretched = not math.isclose(timing.stretch, 1.0)
            engine = "rubberband" if stretched and rubberband is not None else "atempo"
            key = _render_key(clip.path, timing.stretch, timing.gain_db, track, engine)
            raw = store / f"clip-{key}.f32"
            keys[raw] = key
            renders[wanted] = _Render(clip.path, timing.stretch, timing.gain_db, raw)
        placed.append((timing, renders[wanted]))
    missing = [job for job in {job.raw: job for job in renders.values()}.values() if not job.raw.is_file()]
    # Render into the temp folder, then move into place: a crash never leaves a half-written render.
    jobs = [attrs.evolve(job, raw=temp / job.raw.name) for job in missing]
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        if rubberband is not None:  # stretch with Rubber Band first; the render then only converts
            stretched_jobs = [
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
                for job, future in zip(jobs, stretched_jobs, strict=True)
            ]
        rendered = list(pool.map(functools.partial(_render_in_numpy, track=track), jobs))
        jobs = [job for job, done in zip(jobs, rendered, strict=True) if not done]
        size = max(1, batch_size)
        batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        for future in [pool.submit(_render_batch, batch, track, ffmpeg, cwd) for batch in batches]:
            future.result()
    for job in missing:
        os.replace(temp / job.raw.name, job.raw)
    frames = {job.raw: job.raw.stat().st_size // track.frame_bytes for job in renders.values()}
    placements = tuple(
        Placement(round(timing.start * track.sample_rate), frames[job.raw], job.raw, timing.segment_id)
        for timing, job in placed
    )
    logger.debug("rendered %d of %d distinct clips (%d placed)", len(missing), len(renders), len(placed))
    return RenderedClips(placements, keys, len(missing))
