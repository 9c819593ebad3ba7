"""Mixing the dub: clips laid at their planned times over the background, loudness-normalised.

1. Each clip is stretched (Rubber Band, or atempo), gained and converted to the track's rate and layout as
   raw float PCM, a batch of clips per ffmpeg run.
2. The clips are spread over as few non-overlapping layers as possible and each layer is streamed into
   ffmpeg through a pipe (see `dubkit.media.timeline`): memory stays flat for hundreds of clips and
   hour-long tracks, and the filter graph stays small.
3. ffmpeg sums the layers over the separated background, or over the original audio ducked under the dub
   with ``sidechaincompress`` (its sidechain gain set from the dub's measured level, so the depth does not
   depend on how loud the voices were made) and measures loudness with ``ebur128`` (pass one), then renders
   with one linear gain to the target (pass two; a limiter only when the peaks need it), and the result is
   measured again.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import ffmpeg as ffmpeg_python

from dubkit.errors import ConfigError
from dubkit.media.binaries import FFmpeg, default_ffmpeg
from dubkit.media.clips import TrackFormat, render_clips
from dubkit.media.command import ffmpeg_argv, file_url, media_input
from dubkit.media.loudness import (
    Loudness,
    LoudnessTarget,
    measure_loudness,
    normalize_gain,
    parse_ebur128,
    run_with_summary,
)
from dubkit.media.process import Feed, open_feed, run_process
from dubkit.media.staging import staged_output
from dubkit.media.stretch import STRETCH_ENGINES, StretchEngine
from dubkit.media.timeline import Placement, assign_layers, write_layer
from dubkit.media.wav import default_layout, read_wav_info
from dubkit.models.media import AudioFile, DubbedAudio
from dubkit.models.speech import Clip, TimingPlan

__all__ = ["DuckingOptions", "MixOptions", "mix"]

logger = logging.getLogger(__name__)

_SAMPLE_FORMATS = {"pcm_s16le": "s16", "pcm_f32le": "flt"}


def _within(low: float, high: float) -> Callable[[object, attrs.Attribute[Any], float], None]:
    def check(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"{attribute.name} must be within {low:g}-{high:g}, got {value!r}")

    return check


@attrs.frozen(slots=True)
class DuckingOptions:
    """How the original audio is lowered under the dub when no background stem was separated.

    ``sidechaincompress`` keyed by the dub: the original drops while the dub speaks and comes back in its
    pauses. The dub is measured first and the sidechain's gain set so that the dub at its average level sits
    where the compressor lowers the original by ``depth_db``, whatever level the voices were made at.

    Attributes:
        depth_db: How far the original drops under the dub at its average level, dB.
        ratio: Compression ratio (2-20): higher holds the depth steadier as the dub's level moves.
        threshold_db: Sidechain level where ducking starts, dBFS.
        attack_ms: How fast the original drops when the dub starts.
        release_ms: How fast it comes back after the dub stops.
    """

    depth_db: float = attrs.field(default=12.0, validator=_within(0.0, 40.0))
    ratio: float = attrs.field(default=20.0, validator=_within(1.5, 20.0))
    threshold_db: float = attrs.field(default=-30.0, validator=_within(-60.0, 0.0))
    attack_ms: float = attrs.field(default=20.0, validator=_within(0.01, 2000.0))
    release_ms: float = attrs.field(default=400.0, validator=_within(0.01, 9000.0))

    def sidechain_gain(self, dub_level_db: float) -> float:
        """The ``level_sc`` that puts a dub at ``dub_level_db`` (RMS, dBFS) ``depth_db`` into ducking."""
        wanted = self.threshold_db + self.depth_db / (1 - 1 / self.ratio)
        gain_db = wanted - dub_level_db if math.isfinite(dub_level_db) else 0.0
        return min(64.0, max(1 / 64, 10 ** (gain_db / 20)))


@attrs.frozen(slots=True)
class MixOptions:
    """Settings of `mix` besides the loudness target.

    Attributes:
        true_peak: True-peak ceiling of the result, dBTP.
        lra: Loudness range target, LU.
        ducking: Ducking of the original audio (used when there is no background stem).
        stretch_engine: ``auto`` (Rubber Band when installed), ``rubberband`` or ``atempo``.
        codec: ``pcm_s16le`` or ``pcm_f32le`` for the dubbed WAV.
        workers: Clip-rendering ffmpeg runs at once.
        batch_size: Clips rendered per ffmpeg run.
    """

    true_peak: float = attrs.field(default=-1.5, validator=_within(-9.0, 0.0))
    lra: float = attrs.field(default=11.0, validator=_within(1.0, 50.0))
    ducking: DuckingOptions = attrs.field(factory=DuckingOptions)
    stretch_engine: StretchEngine = attrs.field(
        default="auto", validator=attrs.validators.in_(STRETCH_ENGINES)
    )
    codec: str = "pcm_s16le"
    workers: int = attrs.field(default=2, validator=_within(1, 64))
    batch_size: int = attrs.field(default=24, validator=_within(1, 256))


@attrs.frozen(slots=True)
class _Mixdown:
    """The final ffmpeg graph: dub layers streamed in, summed over the (ducked) bed, normalised."""

    layers: Sequence[Sequence[Placement]]
    bed: AudioFile
    track: TrackFormat
    ducking: DuckingOptions | None
    dub_level_db: float
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
                threshold=f"{10 ** (self.ducking.threshold_db / 20):.6f}",
                ratio=self.ducking.ratio,
                attack=self.ducking.attack_ms,
                release=self.ducking.release_ms,
                level_sc=f"{self.ducking.sidechain_gain(self.dub_level_db):.6f}",
            )
        return ffmpeg_python.filter([dub, bed], "amix", inputs=2, normalize=0, duration="first")

    def measure(self) -> Loudness:
        """Pass one: the loudness of the unnormalised mix (ebur128, no output written)."""
        feeds = self._feeds()
        graph = self._premix(feeds).filter("ebur128", peak="true", framelog="verbose")
        output = ffmpeg_python.output(graph, "-", f="null")
        return parse_ebur128(run_with_summary(self.ffmpeg, output, cwd=self.cwd, feeds=feeds).stderr_tail)

    def render(self, out: Path, *, measured: Loudness, target: LoudnessTarget, codec: str) -> Loudness | None:
        """Pass two: the mix at the target loudness (one gain), exactly ``track.frames`` long.

        Returns the loudness the gain was computed to give, or ``None`` for silence (left as it is).
        """
        track = self.track
        feeds = self._feeds()
        graph = self._premix(feeds)
        gain = normalize_gain(target, measured)
        if not measured.silent:
            for name, options in gain.filters():
                graph = graph.filter(name, **options)
        graph = (
            graph.filter("aresample", track.sample_rate)
            .filter("aformat", sample_fmts=_SAMPLE_FORMATS[codec], channel_layouts=track.layout_name)
            .filter("apad", whole_len=track.frames)
            .filter("atrim", end_sample=track.frames)
        )
        output = ffmpeg_python.output(
            graph, file_url(out), f="wav", acodec=codec, rf64="auto", fflags="+bitexact"
        )
        run_process(
            ffmpeg_argv(self.ffmpeg, output), cwd=self.cwd, limits=self.ffmpeg.limits, feeds=feeds, path=out
        )
        return None if measured.silent else gain.expected


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
        options: Everything else (see `MixOptions`).
        ffmpeg: The binaries (`default_ffmpeg` when ``None``).
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
    track = TrackFormat(
        original.sample_rate,
        original.channels,
        original.channel_layout or default_layout(original.channels),
        round(original.duration * original.sample_rate),
    )
    ducking = options.ducking if background is None else None
    target = LoudnessTarget(target_lufs, options.true_peak, options.lra)
    with tempfile.TemporaryDirectory(prefix=".mix-", dir=workdir) as temp_name:
        rendered = render_clips(
            plan,
            clips,
            track,
            temp=Path(temp_name),
            stretch_engine=options.stretch_engine,
            workers=options.workers,
            batch_size=options.batch_size,
            ffmpeg=ffmpeg,
            cwd=workdir,
        )
        layers = assign_layers(rendered.placements)
        logger.info(
            "mixing %d clips in %d layers over %s",
            len(rendered.placements),
            len(layers),
            "the background" if background else "the ducked original",
        )
        mixdown = _Mixdown(layers, background or original, track, ducking, rendered.level_db, ffmpeg, workdir)
        measured = mixdown.measure()
        with staged_output(out_path) as temp_out:
            applied = mixdown.render(temp_out, measured=measured, target=target, codec=options.codec)
    if applied is not None:
        logger.info(
            "loudness %.1f -> %.1f LUFS (%s)", measured.integrated, applied.integrated, applied.normalization
        )
    if applied is not None and applied.normalization == "linear":
        # One gain moves integrated loudness by exactly that gain (BS.1770 is scale-invariant above
        # its -70 LUFS absolute gate), so measuring the result again would only repeat the number.
        lufs: float | None = round(applied.integrated, 2)
    else:
        result = measure_loudness(out_path, ffmpeg=ffmpeg, cwd=workdir)
        lufs = result.integrated if not result.silent else None
    return DubbedAudio(track=read_wav_info(out_path), loudness_lufs=lufs)
