"""Mixing the dub: clips laid at their planned times over the background, loudness-normalised.

1. Each clip is stretched (Rubber Band, or atempo), gained and converted to the track's rate and layout as
   raw float PCM, a batch of clips per ffmpeg run; renders are cached by content (`dubkit.media.clips`).
2. The track is mixed in numpy in fixed blocks of about 30 s (`dubkit.media.blockmix`): the bed (the
   separated background, or the original audio ducked under the dub by a sidechain-style compressor),
   plus the clips. Each block is cached under a key of exactly what falls into it, with its loudness
   statistics, so a re-mix after an edit renders only the blocks the edited clip reaches.
3. The blocks' statistics give the integrated loudness (ITU-R BS.1770, `dubkit.media.meter`); one gain
   brings it to the target (a limiter catches the peaks that gain would push over the ceiling), and the
   blocks are written through it into the WAV (output blocks cached too). Both passes work on two blocks
   at once (`MixOptions.workers`); memory holds a few blocks.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import ffmpeg as ffmpeg_python

from dubkit.errors import ConfigError, DubkitError
from dubkit.media.binaries import FFmpeg, default_ffmpeg
from dubkit.media.command import ffmpeg_argv, file_url, media_input
from dubkit.media.loudness import SILENCE_LUFS
from dubkit.media.process import run_process
from dubkit.media.staging import staged_output
from dubkit.media.stretch import STRETCH_ENGINES, StretchEngine
from dubkit.media.wav import default_layout, read_wav_info
from dubkit.models.media import AudioFile, DubbedAudio
from dubkit.models.speech import Clip, TimingPlan

if TYPE_CHECKING:
    from dubkit.media.blockmix import Ducking
    from dubkit.media.clips import TrackFormat
    from dubkit.media.pcm import PcmFile

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
    """How the original audio is lowered under the dub.

    A compressor keyed by the dub (`dubkit.media.blockmix.Ducking`): what it lowers drops while the dub
    speaks and comes back in its pauses. Each clip's sidechain is scaled by that clip's own RMS level, so
    that a clip at its average level sits where the compressor lowers by the depth asked for, whatever
    level the voice was made at (and the depth never depends on the other clips).

    Without separated stems the whole original drops by ``depth_db``: its voice still talks under the
    dub, that much quieter. With a separated voice stem the bed is the original less the voice stem
    times (1 - the compressor's gain at ``voice_depth_db``): under the dub the original voice is taken
    out while music and room tone play on; between lines the bed is the original as it was.

    Attributes:
        depth_db: How far the original drops under the dub at its average level, dB (no stems).
        voice_depth_db: How far the separated voice stem drops under the dub, dB (with stems).
        background_depth_db: How far the rest of the original drops under the dub, dB (with a voice
            stem; 0 leaves it as it is; a background stem alone is never ducked). A little of the
            voice stays in the background (DeepFilterNet3 takes out about 16 dB of it): 6 dB more
            puts what is left about 22 dB under, where the plain duck leaves the voice 12 dB under,
            and the music drops half as far as under the plain duck.
        ratio: Compression ratio (2-20): higher holds the depth steadier as the dub's level moves.
        threshold_db: Sidechain level where ducking starts, dBFS.
        attack_ms: How fast the original drops when the dub starts.
        release_ms: How fast it comes back after the dub stops.
    """

    depth_db: float = attrs.field(default=12.0, validator=_within(0.0, 40.0))
    voice_depth_db: float = attrs.field(default=30.0, validator=_within(0.0, 40.0))
    background_depth_db: float = attrs.field(default=6.0, validator=_within(0.0, 40.0))
    ratio: float = attrs.field(default=20.0, validator=_within(1.5, 20.0))
    threshold_db: float = attrs.field(default=-30.0, validator=_within(-60.0, 0.0))
    attack_ms: float = attrs.field(default=20.0, validator=_within(0.01, 2000.0))
    release_ms: float = attrs.field(default=400.0, validator=_within(0.01, 9000.0))

    def sidechain_gain(self, dub_level_db: float, depth_db: float | None = None) -> float:
        """The sidechain gain that puts a clip at ``dub_level_db`` (RMS, dBFS) ``depth_db`` into ducking.

        ``depth_db`` defaults to `depth_db` (the original's depth without stems).
        """
        depth = self.depth_db if depth_db is None else depth_db
        wanted = self.threshold_db + depth / (1 - 1 / self.ratio)
        gain_db = wanted - dub_level_db if math.isfinite(dub_level_db) else 0.0
        return min(64.0, max(1 / 64, 10 ** (gain_db / 20)))

    def compressor(self, depth_db: float) -> Ducking:
        """The compressor that lowers what it is applied to by ``depth_db`` under the dub."""
        from dubkit.media.blockmix import Ducking

        return Ducking(
            self.threshold_db,
            self.ratio,
            self.attack_ms,
            self.release_ms,
            functools.partial(self.sidechain_gain, depth_db=depth_db),
        )


@attrs.frozen(slots=True)
class MixOptions:
    """Settings of `mix` besides the loudness target.

    Attributes:
        true_peak: True-peak ceiling of the result, dBTP.
        lra: Loudness range target, LU.
        ducking: Ducking of the original audio (or of the separated voice stem, see `DuckingOptions`).
        stretch_engine: ``auto`` (Rubber Band when installed), ``rubberband`` or ``atempo``.
        codec: ``pcm_s16le`` or ``pcm_f32le`` for the dubbed WAV.
        workers: Clip-rendering ffmpeg runs at once, and mix blocks rendered at once (threads).
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


def mix(
    plan: TimingPlan,
    clips: Sequence[Clip],
    *,
    original: AudioFile,
    background: AudioFile | None = None,
    voice: AudioFile | None = None,
    out_path: Path,
    target_lufs: float = -16.0,
    options: MixOptions | None = None,
    ffmpeg: FFmpeg | None = None,
    cwd: Path | None = None,
    cache_dir: Path | None = None,
    keep_gain_db: float | None = None,
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
        voice: The separated voice stem (with ``background``): then the bed is the original with the
            voice stem taken out while the dub speaks (see `DuckingOptions`), and the original as it
            was between lines. ``None`` with a background: the background is the bed.
        out_path: The dubbed WAV to write (written to a temp name, then renamed).
        target_lufs: Integrated loudness of the result (EBU R128).
        options: Everything else (see `MixOptions`).
        ffmpeg: The binaries (`default_ffmpeg` when ``None``).
        cwd: Working directory and home of the temp files (``out_path``'s folder when ``None``).
        cache_dir: Where rendered clips and mixed blocks are kept for later mixes (a re-mix after an edit
            renders only what changed); ``None``: a temp folder, removed afterwards.
        keep_gain_db: The normalising gain of the mix this one replaces (a re-dub): kept while the result
            stays within `dubkit.media.blockmix.KEEP_GAIN_LU` of ``target_lufs``.

    Returns:
        The dubbed track and its measured integrated loudness.

    Raises:
        ConfigError: A timing without a clip, a negative start, an unusable stretch or gain, a bad codec.
        FFmpegError: ffmpeg or Rubber Band failed or timed out.
    """
    # numpy's modules load here, not with `dubkit.media` (which every command imports: `dubkit probe`
    # answers without them).
    from dubkit.media.blockmix import final_gain, render_blocks, write_output
    from dubkit.media.clips import TrackFormat, render_clips
    from dubkit.media.meter import integrated_loudness

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
    duck = options.ducking
    ducking: Ducking | None = None
    voice_ducking: Ducking | None = None
    if background is None:
        ducking = duck.compressor(duck.depth_db)
    elif voice is not None:
        voice_ducking = duck.compressor(duck.voice_depth_db)
        if duck.background_depth_db > 0:
            ducking = duck.compressor(duck.background_depth_db)
    with tempfile.TemporaryDirectory(prefix=".mix-", dir=workdir) as temp_name:
        temp = Path(temp_name)
        store = cache_dir or temp / "cache"
        rendered = render_clips(
            plan,
            clips,
            track,
            temp=temp,
            cache=store / "clips",
            stretch_engine=options.stretch_engine,
            workers=options.workers,
            batch_size=options.batch_size,
            ffmpeg=ffmpeg,
            cwd=workdir,
        )
        voice_pcm = (
            _bed_pcm(voice, track, temp, ffmpeg, workdir, name="voice.wav")
            if voice is not None and voice_ducking is not None
            else None
        )
        bed = _bed_pcm(original if voice_pcm else background or original, track, temp, ffmpeg, workdir)
        blocks = render_blocks(
            rendered.placements,
            rendered.keys,
            bed,
            channels=track.channels,
            layout=track.layout,
            total_frames=track.frames,
            ducking=ducking,
            cache=store / "blocks",
            workers=options.workers,
            voice=voice_pcm,
            voice_ducking=voice_ducking if voice_pcm is not None else None,
        )
        logger.info(
            "mixed %d clips over %s: %d of %d blocks rendered (%d clips rendered)",
            len(rendered.placements),
            (
                "the original less the ducked voice stem"
                if voice_pcm is not None
                else "the background"
                if background
                else "the ducked original"
            ),
            blocks.rendered,
            len(blocks.blocks),
            rendered.rendered,
        )
        final = final_gain(
            blocks.blocks,
            sample_rate=track.sample_rate,
            total_frames=track.frames,
            target_lufs=target_lufs,
            ceiling_db=options.true_peak,
            silence_lufs=SILENCE_LUFS,
            keep_gain_db=keep_gain_db,
        )
        with staged_output(out_path) as temp_out:
            limited = write_output(
                blocks.blocks,
                final,
                channels=track.channels,
                sample_rate=track.sample_rate,
                layout=track.layout,
                total_frames=track.frames,
                codec=options.codec,
                cache=store / "output",
                out=temp_out,
                workers=options.workers,
            )
    if final.chunk_gains is None and final.gain == 1.0:
        lufs: float | None = None  # silence, left as it is
    elif limited is None:
        # One gain moves integrated loudness by exactly that gain (BS.1770 is scale-invariant above its
        # -70 LUFS absolute gate): the result is known without measuring it again.
        lufs = round(final.measured + 20 * math.log10(final.gain), 2)
    else:
        lufs = round(integrated_loudness(limited, track.sample_rate, track.frames), 2)
    if lufs is not None:
        logger.info(
            "loudness %.1f -> %.1f LUFS (%s)", final.measured, lufs, "limited" if limited else "linear"
        )
    gain_db = None if lufs is None else final.gain_db
    return DubbedAudio(track=read_wav_info(out_path), loudness_lufs=lufs, gain_db=gain_db)


def _bed_pcm(
    bed: AudioFile, track: TrackFormat, temp: Path, ffmpeg: FFmpeg, cwd: Path, *, name: str = "bed.wav"
) -> PcmFile:
    """The bed as a readable PCM file at the track's rate and channel count (converted once if it is not)."""
    from dubkit.media.pcm import open_pcm

    try:
        pcm = open_pcm(bed.path)
    except DubkitError:
        pcm = None
    if pcm is not None and (pcm.sample_rate, pcm.channels) == (track.sample_rate, track.channels):
        return pcm
    converted = temp / name
    audio = (
        media_input(bed.path, "wav", ffmpeg=ffmpeg)
        .audio.filter("aresample", track.sample_rate)
        .filter("aformat", sample_fmts="flt", channel_layouts=track.layout_name)
    )
    output = ffmpeg_python.output(audio, file_url(converted), f="wav", acodec="pcm_f32le", rf64="auto")
    run_process(ffmpeg_argv(ffmpeg, output), cwd=cwd, limits=ffmpeg.limits, path=bed.path)
    return open_pcm(converted)
