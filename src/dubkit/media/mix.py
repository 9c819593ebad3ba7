"""Mixing the dub: clips laid at their planned times over the background, loudness-normalised.

1. Each clip is stretched (Rubber Band, or atempo), gained and converted to the track's rate and layout as
   raw float PCM, a batch of clips per ffmpeg run.
2. The clips are spread over as few non-overlapping layers as possible and each layer is streamed into
   ffmpeg through a pipe (see :mod:`dubkit.media.timeline`): memory stays flat for hundreds of clips and
   hour-long tracks, and the filter graph stays small.
3. ffmpeg sums the layers over the separated background, or over the original audio ducked under the dub
   with ``sidechaincompress``, measures loudness (pass one), then renders with two-pass ``loudnorm``
   (pass two), and the result is measured again.
"""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import math
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import ffmpeg as ffmpeg_python

from dubkit.errors import ConfigError
from dubkit.media.binaries import FFmpeg, default_ffmpeg
from dubkit.media.command import ffmpeg_argv, file_url, media_input
from dubkit.media.loudness import (
    Loudness,
    LoudnessTarget,
    measure_loudness,
    normalize_filter,
    parse_loudnorm,
    run_with_loudnorm,
)
from dubkit.media.process import Feed, open_feed, run_process
from dubkit.media.staging import staged_output
from dubkit.media.stretch import StretchEngine, atempo_factors, check_tempo, find_rubberband, stretch
from dubkit.media.timeline import Placement, assign_layers, write_layer
from dubkit.media.wav import default_layout, read_wav_info
from dubkit.models.media import AudioFile, DubbedAudio
from dubkit.models.speech import Clip, ClipTiming, TimingPlan

__all__ = ["DuckingOptions", "MixOptions", "mix"]

logger = logging.getLogger(__name__)

_SAMPLE_FORMATS = {"pcm_s16le": "s16", "pcm_f32le": "flt"}
_MAX_GAIN_DB = 40.0


@attrs.frozen(slots=True)
class DuckingOptions:
    """How the original audio is lowered under the dub when no background stem was separated.

    ``sidechaincompress`` keyed by the dub: the original drops while a clip plays and comes back after.

    Attributes:
        threshold: Dub level (linear, 0-1) above which ducking starts.
        ratio: Compression ratio (1-20).
        attack_ms: How fast the original drops when a clip starts.
        release_ms: How fast it comes back after a clip ends.
    """

    threshold: float = 0.02
    ratio: float = 10.0
    attack_ms: float = 15.0
    release_ms: float = 400.0


@attrs.frozen(slots=True)
class MixOptions:
    """Settings of :func:`mix` besides the loudness target.

    Attributes:
        true_peak: True-peak ceiling of the result, dBTP.
        lra: Loudness range target, LU.
        ducking: Ducking of the original audio (used when there is no background stem).
        stretch_engine: ``auto`` (Rubber Band when installed), ``rubberband`` or ``atempo``.
        codec: ``pcm_s16le`` or ``pcm_f32le`` for the dubbed WAV.
        workers: Clip-rendering ffmpeg runs at once.
        batch_size: Clips rendered per ffmpeg run.
    """

    true_peak: float = -1.5
    lra: float = 11.0
    ducking: DuckingOptions = DuckingOptions()
    stretch_engine: StretchEngine = "auto"
    codec: str = "pcm_s16le"
    workers: int = 2
    batch_size: int = 24


@attrs.frozen(slots=True)
class _Track:
    """The format of the dubbed track: the original's rate and layout."""

    sample_rate: int
    channels: int
    layout: str | None
    frames: int

    @property
    def frame_bytes(self) -> int:
        return self.channels * 4

    @property
    def layout_name(self) -> str:
        return self.layout or f"{self.channels}c"

    def raw_options(self) -> dict[str, Any]:
        """Options of the raw float demuxer that reads this format from a pipe."""
        layout = {"ch_layout": self.layout} if self.layout else {"channels": self.channels}
        return {"f": "f32le", "sample_rate": self.sample_rate, **layout}


@attrs.frozen(slots=True)
class _Job:
    timing: ClipTiming
    clip: Clip
    raw: Path


def _jobs(plan: TimingPlan, clips: Sequence[Clip], track: _Track, temp: Path) -> list[_Job]:
    by_id = {clip.segment_id: clip for clip in clips}
    jobs: list[_Job] = []
    for number, timing in enumerate(plan.timings):
        clip = by_id.get(timing.segment_id)
        if clip is None:
            raise ConfigError(
                f"the plan places segment {timing.segment_id!r} but it has no clip", field="clips"
            )
        if not (math.isfinite(timing.start) and timing.start >= 0):
            raise ConfigError(f"segment {timing.segment_id!r} starts at {timing.start!r}", field="plan")
        if not (math.isfinite(timing.gain_db) and abs(timing.gain_db) <= _MAX_GAIN_DB):
            raise ConfigError(f"segment {timing.segment_id!r} has gain {timing.gain_db!r} dB", field="plan")
        check_tempo(timing.stretch)
        if round(timing.start * track.sample_rate) >= track.frames:
            logger.warning("segment %s starts after the end of the track; left out", timing.segment_id)
            continue
        jobs.append(_Job(timing, clip, temp / f"clip{number:05d}.f32"))
    unused = set(by_id) - {t.segment_id for t in plan.timings}
    if unused:
        logger.debug("%d clips have no timing and are left out", len(unused))
    return jobs


def _render_batch(
    batch: Sequence[_Job], sources: dict[str, Path], track: _Track, ffmpeg: FFmpeg, cwd: Path
) -> None:
    outputs = []
    for job in batch:
        source = sources.get(job.timing.segment_id)
        audio = media_input(source or job.clip.path, "wav", ffmpeg=ffmpeg).audio
        if source is None:
            for factor in atempo_factors(job.timing.stretch):
                audio = audio.filter("atempo", f"{factor:.9g}")
        if job.timing.gain_db:
            audio = audio.filter("volume", f"{job.timing.gain_db:.3f}dB")
        audio = audio.filter("aresample", track.sample_rate).filter(
            "aformat", sample_fmts="flt", channel_layouts=track.layout_name
        )
        outputs.append(ffmpeg_python.output(audio, file_url(job.raw), f="f32le", acodec="pcm_f32le"))
    argv = ffmpeg_argv(ffmpeg, ffmpeg_python.merge_outputs(*outputs))
    run_process(argv, cwd=cwd, limits=ffmpeg.limits, path=batch[0].clip.path)


def _render(
    jobs: Sequence[_Job], track: _Track, options: MixOptions, ffmpeg: FFmpeg, cwd: Path
) -> list[Placement]:
    """Stretch and render every clip to raw PCM; their placements on the timeline."""
    rubberband = find_rubberband() if options.stretch_engine != "atempo" else None
    if options.stretch_engine == "rubberband" and rubberband is None:
        raise ConfigError(
            "Rubber Band is not installed (apt-get install rubberband-cli)", field="stretch_engine"
        )
    sources: dict[str, Path] = {}
    workers = max(1, options.workers)
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        if rubberband is not None:
            stretched = {
                job.timing.segment_id: pool.submit(
                    stretch,
                    job.clip.path,
                    job.raw.with_suffix(".wav"),
                    job.timing.stretch,
                    engine="rubberband",
                    rubberband=rubberband,
                    ffmpeg=ffmpeg,
                    cwd=cwd,
                )
                for job in jobs
                if not math.isclose(job.timing.stretch, 1.0)
            }
            sources = {segment: future.result() for segment, future in stretched.items()}
        size = max(1, options.batch_size)
        batches = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        for future in [pool.submit(_render_batch, b, sources, track, ffmpeg, cwd) for b in batches]:
            future.result()
    placements = []
    for job in jobs:
        frames = job.raw.stat().st_size // track.frame_bytes
        placements.append(
            Placement(round(job.timing.start * track.sample_rate), frames, job.raw, job.timing.segment_id)
        )
    return placements


@attrs.frozen(slots=True)
class _Mixdown:
    """The final ffmpeg graph: dub layers streamed in, summed over the (ducked) bed, normalised."""

    layers: Sequence[Sequence[Placement]]
    bed: AudioFile
    track: _Track
    ducking: DuckingOptions | None
    ffmpeg: FFmpeg
    cwd: Path

    def _feeds(self) -> list[Feed]:
        track = self.track

        def source(layer: Sequence[Placement], sink: BinaryIO) -> None:
            write_layer(sink, layer, total_frames=track.frames, frame_bytes=track.frame_bytes)

        return [open_feed(functools.partial(source, layer)) for layer in self.layers]

    def _premix(self, feeds: Sequence[Feed]) -> Any:
        """The graph up to loudness normalisation."""
        track = self.track
        bed = (
            media_input(self.bed.path, "wav", ffmpeg=self.ffmpeg)
            .audio.filter("aresample", track.sample_rate)
            .filter("aformat", sample_fmts="flt", channel_layouts=track.layout_name)
        )
        layers = [
            ffmpeg_python.input(feed.url, protocol_whitelist="pipe", **track.raw_options()).audio
            for feed in feeds
        ]
        if not layers:
            return bed
        dub = (
            layers[0]
            if len(layers) == 1
            else ffmpeg_python.filter(layers, "amix", inputs=len(layers), normalize=0)
        )
        if self.ducking is not None:
            split = dub.filter_multi_output("asplit", 2)
            dub = split[0]
            bed = ffmpeg_python.filter(
                [bed, split[1]],
                "sidechaincompress",
                threshold=self.ducking.threshold,
                ratio=self.ducking.ratio,
                attack=self.ducking.attack_ms,
                release=self.ducking.release_ms,
            )
        return ffmpeg_python.filter([dub, bed], "amix", inputs=2, normalize=0, duration="first")

    def measure(self) -> Loudness:
        """Pass one: the loudness of the unnormalised mix."""
        feeds = self._feeds()
        graph = self._premix(feeds).filter("loudnorm", print_format="json")
        output = ffmpeg_python.output(graph, "-", f="null")
        return parse_loudnorm(run_with_loudnorm(self.ffmpeg, output, cwd=self.cwd, feeds=feeds).stderr_tail)

    def render(self, out: Path, *, measured: Loudness, target: LoudnessTarget, codec: str) -> Loudness | None:
        """Pass two: the normalised mix, exactly ``track.frames`` long; loudnorm's own report of it."""
        track = self.track
        feeds = self._feeds()
        graph = self._premix(feeds)
        if not measured.silent:
            graph = graph.filter("loudnorm", **normalize_filter(target, measured))
        graph = (
            graph.filter("aresample", track.sample_rate)
            .filter("aformat", sample_fmts=_SAMPLE_FORMATS[codec], channel_layouts=track.layout_name)
            .filter("apad", whole_len=track.frames)
            .filter("atrim", end_sample=track.frames)
        )
        output = ffmpeg_python.output(
            graph, file_url(out), f="wav", acodec=codec, rf64="auto", fflags="+bitexact"
        )
        run = run_with_loudnorm(self.ffmpeg, output, cwd=self.cwd, feeds=feeds, path=out)
        return None if measured.silent else parse_loudnorm(run.stderr_tail, output=True)


def mix(
    plan: TimingPlan,
    clips: Sequence[Clip],
    *,
    original: AudioFile,
    background: AudioFile | None = None,
    out_path: Path,
    target_lufs: float = -16.0,
    options: MixOptions | None = None,
    ffmpeg: FFmpeg | None = None,
    cwd: Path | None = None,
) -> DubbedAudio:
    """Lay the clips at their planned times over the background and normalise the loudness.

    The result has the original's sample rate, channel layout and length (to the sample). A mono clip is
    upmixed by ffmpeg's standard matrix: to both channels of a stereo track, to the centre of a 5.1 one.

    Args:
        plan: Where each clip starts, its stretch (tempo factor) and gain.
        clips: The synthesised clips (WAV), matched to the plan by segment id.
        original: The original audio (the extract stage's full track): format, length, and the bed to
            duck when there is no background.
        background: The separated background stem, or ``None`` to duck the original under the dub.
        out_path: The dubbed WAV to write (written to a temp name, then renamed).
        target_lufs: Integrated loudness of the result (EBU R128).
        options: Everything else (see :class:`MixOptions`).
        ffmpeg: The binaries (:func:`default_ffmpeg` when ``None``).
        cwd: Working directory and home of the temp files (``out_path``'s folder when ``None``).

    Returns:
        The dubbed track and its measured integrated loudness.

    Raises:
        ConfigError: A timing without a clip, a negative start, an unusable stretch or gain, a bad codec.
        FFmpegError: ffmpeg or Rubber Band failed or timed out.
    """
    options = options or MixOptions()
    if options.codec not in _SAMPLE_FORMATS:
        raise ConfigError(f"codec must be one of {sorted(_SAMPLE_FORMATS)}", field="codec")
    if not (math.isfinite(target_lufs) and -70.0 <= target_lufs <= -5.0):
        raise ConfigError(f"target_lufs {target_lufs!r} is outside -70..-5", field="target_lufs")
    ffmpeg = ffmpeg or default_ffmpeg()
    out_path = Path(os.path.abspath(out_path))
    workdir = cwd or out_path.parent
    workdir.mkdir(parents=True, exist_ok=True)
    track = _Track(
        original.sample_rate,
        original.channels,
        original.channel_layout or default_layout(original.channels),
        round(original.duration * original.sample_rate),
    )
    ducking = options.ducking if background is None else None
    target = LoudnessTarget(target_lufs, options.true_peak, options.lra)
    with tempfile.TemporaryDirectory(prefix=".mix-", dir=workdir) as temp_name:
        jobs = _jobs(plan, clips, track, Path(temp_name))
        layers = assign_layers(_render(jobs, track, options, ffmpeg, workdir))
        logger.info(
            "mixing %d clips in %d layers over %s",
            len(jobs),
            len(layers),
            "the background" if background else "the ducked original",
        )
        mixdown = _Mixdown(layers, background or original, track, ducking, ffmpeg, workdir)
        measured = mixdown.measure()
        with staged_output(out_path) as temp_out:
            applied = mixdown.render(temp_out, measured=measured, target=target, codec=options.codec)
    if applied is not None:
        logger.info(
            "loudness %.1f -> %.1f LUFS (%s)", measured.integrated, applied.integrated, applied.normalization
        )
    result = measure_loudness(out_path, ffmpeg=ffmpeg, cwd=workdir)
    lufs = result.integrated if not result.silent else None
    return DubbedAudio(track=read_wav_info(out_path), loudness_lufs=lufs)
