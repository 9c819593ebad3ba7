"""The mix, block by block: fixed blocks of the track rendered in numpy and cached by what falls into them.

The track is cut into blocks of about 30 s (a whole number of 1024-frame AAC frames). Each block is

1. rendered from what falls into it: the bed's frames (the original audio, or a separated background
   that has no voice stem beside it), the voice stem's frames where there is one, and the slices of
   the rendered clips that overlap it, all float32;
2. ducked: the gain follows the dub's envelope like a sidechain compressor (attack/release follower on
   10 ms hops, hard-knee gain curve, linear between hops), each clip's sidechain scaled by its own
   level so the depth does not depend on how loud a voice was made. Without stems the whole original
   is ducked; with a separated voice stem, the voice stem times (1 - gain) is taken out of the
   original, so that the original voice is gone under the dub and the original is whole between lines;
3. measured: BS.1770 gating sums (`dubkit.media.meter`) and the peak of every 256-frame chunk;
4. stored in the cache as raw float32 with its statistics, under a key that hashes exactly what it was
   made from: the block's place, the bed's (and voice stem's) slice digest, each overlapping clip's
   render key and place, and the settings. A block depends on audio before it (the ducking follower
   and the K-filter carry state), so each block renders from ``PRE_ROLL`` seconds earlier, starting
   from rest: a block is a function of its inputs alone, a full render and an incremental one give the
   same bytes, and an edit re-renders only the blocks its clip (and that clip's pre-roll) reaches.

The integrated loudness of the whole mix follows from the blocks' gating sums; one gain (in steps of
`GAIN_STEP_DB`, or on a re-dub the previous result's gain while it keeps the mix within `KEEP_GAIN_LU` of
the target, so that an edit rarely changes it and the untouched blocks of the output stay the same
bytes) brings it to the target, and a feed-forward limiter (the smallest gain a chunk and its
neighbours need, ramped linearly from chunk to chunk, so it never overshoots) holds sample peaks
``PEAK_MARGIN_DB`` under the true-peak ceiling where the gain pushes them over. The final pass writes
the blocks through that gain into the output WAV (each output block cached as well: an edit that
leaves the gain alone recomputes only the blocks that changed): memory holds a few blocks whatever
the track's length.

Blocks depend on nothing but their inputs, so both passes work on ``workers`` blocks at once (threads:
the FFTs, hashing and file I/O run without the GIL), taken in order with at most ``workers + 1`` in
flight; the bytes written do not depend on ``workers``. On two cores that takes the mix of a
ten-minute dub from about 2.9 s to 1.9 s.
"""

from __future__ import annotations

import collections
import concurrent.futures
import hashlib
import json
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, TypeVar

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.media.meter import GatingSums, LoudnessMeter, combine, integrated_loudness
from dubkit.media.pcm import PcmFile
from dubkit.media.timeline import Placement
from dubkit.media.wavwrite import wav_header

__all__ = [
    "CHUNK",
    "GAIN_STEP_DB",
    "KEEP_GAIN_LU",
    "PEAK_MARGIN_DB",
    "PRE_ROLL",
    "BlockStats",
    "Ducking",
    "FinalGain",
    "RenderedBlocks",
    "block_bounds",
    "block_frames",
    "final_gain",
    "render_blocks",
    "write_output",
]

logger = logging.getLogger(__name__)

_Audio = npt.NDArray[np.float32]

#: Seconds of audio each block is rendered from before its start (ducking release and K-filter settle).
PRE_ROLL = 2.0
#: Frames per limiter chunk (blocks are whole numbers of chunks).
CHUNK = 256
#: Sample peaks are held this far under the true-peak ceiling, for peaks between samples.
PEAK_MARGIN_DB = 0.5
#: The normalising gain is a whole number of these (dB), so that small edits leave it as it is.
GAIN_STEP_DB = 0.1
#: A re-dub keeps the previous result's gain while the mix stays this close to the target (LU).
KEEP_GAIN_LU = 0.5
_BLOCK_SECONDS = 30.0
_AAC_FRAME = 1024
_HOP_SECONDS = 0.01
_VERSION = 1
_TAIL_CHUNKS = 32  # chunks of the previous block that warm the output's loudness filter (8192 frames)

_T = TypeVar("_T")
_R = TypeVar("_R")


def _ordered_map(work: Callable[[_T], _R], items: Iterable[_T], workers: int) -> Iterator[_R]:
    """``map(work, items)`` on ``workers`` threads, in order, with at most ``workers + 1`` items in flight.

    Blocks are independent of each other, and their work (FFTs, hashing, file I/O) runs in numpy and C
    without the GIL, so two threads render two blocks at once; bounding what is in flight keeps memory
    at a few blocks however long the track.
    """
    if workers <= 1:
        yield from map(work, items)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="blockmix") as pool:
        pending: collections.deque[concurrent.futures.Future[_R]] = collections.deque()
        try:
            for item in items:
                pending.append(pool.submit(work, item))
                if len(pending) > workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()


def block_frames(sample_rate: int, seconds: float = _BLOCK_SECONDS) -> int:
    """Frames per block: about ``seconds``, a whole number of 1024-frame AAC frames (and of chunks)."""
    return _AAC_FRAME * max(1, round(seconds * sample_rate / _AAC_FRAME))


def block_bounds(total_frames: int, size: int) -> list[tuple[int, int]]:
    """``[start, end)`` of every block of a track."""
    return [(start, min(total_frames, start + size)) for start in range(0, total_frames, size)]


@attrs.frozen(slots=True)
class Ducking:
    """The compressor the bed goes through, keyed by the dub (see `DuckingOptions` in `dubkit.media.mix`).

    Attributes:
        threshold_db: Sidechain level where ducking starts, dBFS.
        ratio: Compression ratio.
        attack_ms: Attack time.
        release_ms: Release time.
        sidechain_gain: Maps a clip's RMS level (dBFS) to the linear gain of its sidechain.
    """

    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float
    sidechain_gain: Callable[[float], float] = attrs.field(eq=False)

    def key(self) -> dict[str, float]:
        """What the cache key holds of it."""
        return {
            "threshold": self.threshold_db,
            "ratio": self.ratio,
            "attack": self.attack_ms,
            "release": self.release_ms,
            "calibration": self.sidechain_gain(-20.0),
        }

    def gain(self, sidechain_power: npt.NDArray[np.float64], sample_rate: int) -> npt.NDArray[np.float32]:
        """Per-frame gain for the bed from the sidechain's per-frame power (mean square over channels)."""
        frames = len(sidechain_power)
        hop = max(1, round(_HOP_SECONDS * sample_rate))
        hops = -(-frames // hop)
        padded = np.zeros(hops * hop, dtype=np.float64)
        padded[:frames] = sidechain_power
        power = padded.reshape(hops, hop).mean(axis=1)
        # ffmpeg's follower moves a fraction 4000 / (ms * rate) of the way every sample; over a hop that is:
        attack = 1 - (1 - min(1.0, 4000 / (self.attack_ms * sample_rate))) ** hop
        release = 1 - (1 - min(1.0, 4000 / (self.release_ms * sample_rate))) ** hop
        envelope = np.empty(hops, dtype=np.float64)
        level = 0.0
        for i, value in enumerate(power.tolist()):
            level += (value - level) * (attack if value > level else release)
            envelope[i] = level
        with np.errstate(divide="ignore"):
            level_db = 10 * np.log10(np.maximum(envelope, 1e-20))
        over = np.maximum(0.0, level_db - self.threshold_db)
        hop_gain = (10 ** ((1 / self.ratio - 1) * over / 20)).astype(np.float32)
        # Linear from each hop's gain to the next one's across the hop (cheaper than np.interp).
        following = np.append(hop_gain[1:], hop_gain[-1:])
        ramp = np.arange(hop, dtype=np.float32) / np.float32(hop)
        curve: npt.NDArray[np.float32] = hop_gain[:, None] + (following - hop_gain)[:, None] * ramp[None, :]
        return curve.reshape(-1)[:frames]


@attrs.frozen(slots=True)
class BlockStats:
    """What the final pass needs of a rendered block.

    Attributes:
        sums: Its gating sums (see `dubkit.media.meter`).
        chunk_peaks: Peak of each `CHUNK` frames of the block, all channels.
    """

    sums: GatingSums
    chunk_peaks: npt.NDArray[np.float32]


@attrs.frozen(slots=True)
class _Block:
    index: int
    start: int
    end: int
    key: str
    raw: Path
    stats: Path


@attrs.frozen(slots=True)
class RenderedBlocks:
    """The mix before its final gain.

    Attributes:
        blocks: Raw float32 file and statistics of every block, in order.
        rendered: How many blocks were rendered now (the others came from the cache).
    """

    blocks: tuple[tuple[Path, BlockStats], ...]
    rendered: int


class _ClipAudio:
    """Rendered clips read on demand (float32 frames and RMS level), memoised for one mix."""

    def __init__(self, channels: int) -> None:
        self._channels = channels
        self._levels: dict[Path, float] = {}

    def frames(self, raw: Path, first: int, count: int) -> _Audio:
        bytes_per_frame = 4 * self._channels
        with raw.open("rb") as handle:
            handle.seek(first * bytes_per_frame)
            data = np.fromfile(handle, dtype="<f4", count=count * self._channels)
        out = np.zeros((count, self._channels), dtype=np.float32)
        samples = data.reshape(-1, self._channels)
        out[: len(samples)] = samples
        return out

    def level_db(self, raw: Path) -> float:
        if raw not in self._levels:
            data = np.fromfile(raw, dtype="<f4")
            power = float(np.mean(np.square(data, dtype=np.float64))) if data.size else 0.0
            self._levels[raw] = 10 * math.log10(power) if power > 0 else -math.inf
        return self._levels[raw]


def _digest(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode() if isinstance(part, str) else part)
        digest.update(b"\0")
    return digest.hexdigest()[:32]


def _write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with temp.open("wb") as handle:
            write(handle)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)


def _save_stats(path: Path, stats: BlockStats) -> None:
    payload = {
        "first": stats.sums.first,
        "sums": stats.sums.sums.tolist(),
        "peak": stats.sums.peak,
        "chunk_peaks": stats.chunk_peaks.tolist(),
    }
    _write_atomic(path, lambda handle: handle.write(json.dumps(payload).encode()))


def _load_stats(path: Path) -> BlockStats | None:
    try:
        payload = json.loads(path.read_text())
        sums = GatingSums(
            int(payload["first"]), np.asarray(payload["sums"], dtype=np.float64), payload["peak"]
        )
        return BlockStats(sums, np.asarray(payload["chunk_peaks"], dtype=np.float32))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _chunk_peaks(audio: _Audio) -> npt.NDArray[np.float32]:
    frames = len(audio)
    chunks = -(-frames // CHUNK)
    if frames == chunks * CHUNK:
        rows = audio.reshape(chunks, -1)
    else:
        padded = np.zeros((chunks * CHUNK, audio.shape[1]), dtype=np.float32)
        padded[:frames] = audio
        rows = padded.reshape(chunks, -1)
    peaks: npt.NDArray[np.float32] = np.maximum(rows.max(axis=1), -rows.min(axis=1))
    return peaks


def _power(piece: _Audio) -> npt.NDArray[np.float64]:
    """Per-frame square of the loudest channel."""
    power = np.square(piece[:, 0], dtype=np.float64)
    for channel in range(1, piece.shape[1]):
        np.maximum(power, np.square(piece[:, channel], dtype=np.float64), out=power)
    return power


def render_blocks(
    placements: Sequence[Placement],
    render_keys: dict[Path, str],
    bed: PcmFile,
    *,
    channels: int,
    layout: str | None,
    total_frames: int,
    ducking: Ducking | None,
    cache: Path,
    workers: int = 2,
    voice: PcmFile | None = None,
    voice_ducking: Ducking | None = None,
) -> RenderedBlocks:
    """Render (or find in ``cache``) every block of the pre-gain mix.

    Args:
        placements: The clips on the timeline (raw float32 at the track's format).
        render_keys: Each raw file's content key (what it was rendered from).
        bed: The background or the original audio, at the track's rate and channel count.
        channels: The track's channel count.
        layout: The track's layout name (for the loudness weights).
        total_frames: The track's length.
        ducking: How to duck the bed under the dub, or ``None`` to leave it as it is.
        cache: Folder of cached blocks (created if missing).
        workers: Blocks rendered at once (threads; the result does not depend on it).
        voice: The separated voice stem (same format as ``bed``, the original): taken out of the bed
            times (1 - ``voice_ducking``'s gain), so that the bed is the original where the dub is
            silent and the original less its voice where the dub speaks.
        voice_ducking: The compressor that takes the voice out under the dub (needed with ``voice``).
    """
    if (voice is None) != (voice_ducking is None):
        raise ValueError("voice and voice_ducking go together")
    cache.mkdir(parents=True, exist_ok=True)
    rate = bed.sample_rate
    size = block_frames(rate)
    pre_roll = round(PRE_ROLL * rate)
    ordered = sorted(placements, key=lambda p: (p.start, p.end))
    clips = _ClipAudio(channels)
    settings = json.dumps(
        {
            "v": _VERSION,
            "rate": rate,
            "channels": channels,
            "layout": layout,
            "size": size,
            "pre": pre_roll,
            "ducking": ducking.key() if ducking else None,
            "voice": voice_ducking.key() if voice_ducking else None,
        },
        sort_keys=True,
    )

    def one(numbered: tuple[int, tuple[int, int]]) -> tuple[Path, BlockStats, bool]:
        index, (start, end) = numbered
        first = max(0, start - pre_roll)
        inside = [p for p in ordered if p.start < end and p.end > first]
        key = _digest(
            settings,
            f"{index}:{start}:{end}",
            hashlib.sha256(bed.read_bytes(first, end - first)).digest(),
            hashlib.sha256(voice.read_bytes(first, end - first)).digest() if voice else b"",
            json.dumps([[p.start, p.frames, render_keys[p.raw]] for p in inside]),
        )
        block = _Block(index, start, end, key, cache / f"block-{key}.f32", cache / f"block-{key}.json")
        whole = block.raw.is_file() and block.raw.stat().st_size == (end - start) * channels * 4
        stats = _load_stats(block.stats) if whole else None
        if stats is not None:
            return block.raw, stats, False
        stats = _render(
            block,
            first,
            bed.read(first, end - first),
            inside=inside,
            clips=clips,
            rate=rate,
            channels=channels,
            layout=layout,
            ducking=ducking,
            voice=(voice.read(first, end - first), voice_ducking) if voice and voice_ducking else None,
        )
        return block.raw, stats, True

    out: list[tuple[Path, BlockStats]] = []
    rendered = 0
    for raw, stats, new in _ordered_map(one, enumerate(block_bounds(total_frames, size)), workers):
        rendered += new
        out.append((raw, stats))
    logger.debug("mix blocks: %d of %d rendered, the rest cached", rendered, len(out))
    return RenderedBlocks(tuple(out), rendered)


def _render(
    block: _Block,
    first: int,
    bed: _Audio,
    *,
    inside: Sequence[Placement],
    clips: _ClipAudio,
    rate: int,
    channels: int,
    layout: str | None,
    ducking: Ducking | None,
    voice: tuple[_Audio, Ducking] | None = None,
) -> BlockStats:
    frames = block.end - first
    dub = np.zeros((frames, channels), dtype=np.float32)
    # One sidechain per compressor: each scales a clip by its own calibration.
    duckings = [d for d in (ducking, voice[1] if voice else None) if d is not None]
    sidechains = [np.zeros(frames, dtype=np.float64) for _ in duckings]
    for item in inside:
        lo, hi = max(first, item.start), min(block.end, item.end)
        piece = clips.frames(item.raw, lo - item.start, hi - lo)
        dub[lo - first : hi - first] += piece
        if duckings:
            power = _power(piece)
            for compressor, sidechain in zip(duckings, sidechains, strict=True):
                scale = compressor.sidechain_gain(clips.level_db(item.raw))
                sidechain[lo - first : hi - first] += power * (scale * scale)
    gains = [c.gain(sidechain, rate) for c, sidechain in zip(duckings, sidechains, strict=True)]
    if voice is not None:
        voice_audio = voice[0]
        voice_audio *= (1 - gains[-1])[:, None]
        bed -= voice_audio
    if ducking is not None:
        bed *= gains[0][:, None]
    mixed = bed
    mixed += dub
    body = mixed[block.start - first :]
    meter = LoudnessMeter(rate, channels, layout, start_frame=block.start)
    meter.warm(mixed[: block.start - first])
    meter.add(body)
    stats = BlockStats(meter.sums(), _chunk_peaks(body))
    _write_atomic(block.raw, lambda handle: handle.write(np.ascontiguousarray(body).tobytes()))
    _save_stats(block.stats, stats)
    return stats


@attrs.frozen(slots=True)
class FinalGain:
    """The gain that takes the mix to its target, and the limiter's per-chunk gains where it is needed.

    Attributes:
        measured: Integrated loudness of the pre-gain mix, LUFS (``-inf`` for silence).
        gain: Linear gain for the whole track (1.0 for silence).
        chunk_gains: The limiter's gain at each chunk centre, or ``None`` when no peak needs it.
        gain_db: ``gain`` in dB, exactly as chosen (a re-dub passes it back to keep the same gain).
    """

    measured: float
    gain: float
    chunk_gains: npt.NDArray[np.float64] | None
    gain_db: float = 0.0


def final_gain(
    blocks: Sequence[tuple[Path, BlockStats]],
    *,
    sample_rate: int,
    total_frames: int,
    target_lufs: float,
    ceiling_db: float,
    silence_lufs: float,
    keep_gain_db: float | None = None,
) -> FinalGain:
    """The normalising gain (and limiter) from the blocks' statistics alone.

    ``keep_gain_db`` (a re-dub: the gain of the result it replaces) is used as it is while it takes the
    mix within `KEEP_GAIN_LU` of ``target_lufs``.
    """
    measured = integrated_loudness(combine(s.sums for _, s in blocks), sample_rate, total_frames)
    if not math.isfinite(measured) or measured <= silence_lufs:
        return FinalGain(measured, 1.0, None)
    # The gain moves in GAIN_STEP_DB steps: an edit moves the whole mix's loudness by a few hundredths of a
    # dB, so the gain (and with it every untouched block of the output, and its AAC encoding) usually
    # stays the same; the result is within half a step of the target. A re-dub keeps the gain it had
    # (within KEEP_GAIN_LU), so that an edit near a step's edge does not change every block either.
    gain_db = round((target_lufs - measured) / GAIN_STEP_DB) * GAIN_STEP_DB
    if keep_gain_db is not None and abs(measured + keep_gain_db - target_lufs) <= KEEP_GAIN_LU:
        gain_db = keep_gain_db
    gain = 10 ** (gain_db / 20)
    peaks = np.concatenate([s.chunk_peaks for _, s in blocks]).astype(np.float64) if blocks else np.zeros(0)
    ceiling = 10 ** ((ceiling_db - PEAK_MARGIN_DB) / 20)
    if not len(peaks) or float(peaks.max()) * gain <= ceiling:
        return FinalGain(measured, gain, None, gain_db)
    with np.errstate(divide="ignore"):
        need = np.minimum(1.0, ceiling / np.maximum(peaks * gain, 1e-30))
    # Each chunk's gain is the least it and its neighbours need: a ramp from one chunk's gain to the
    # next one's then never rises above what any frame needs.
    padded = np.concatenate([[1.0], need, [1.0]])
    chunk_gains = np.minimum(np.minimum(padded[:-2], padded[1:-1]), padded[2:])
    return FinalGain(measured, gain, chunk_gains, gain_db)


def _limiter_curve(
    chunk_gains: npt.NDArray[np.float64], gain: float, position: int, frames: int
) -> npt.NDArray[np.float32]:
    """The final gain of frames ``[position, position + frames)`` (``position`` a multiple of `CHUNK`).

    Linear across each chunk from its gain to the next chunk's: both are at most what the chunk needs.
    """
    first = position // CHUNK
    count = -(-frames // CHUNK)
    here = (chunk_gains[first : first + count] * gain).astype(np.float32)
    following = (chunk_gains[first + 1 : first + count + 1] * gain).astype(np.float32)
    if len(following) < len(here):
        following = np.append(following, here[-1:])
    ramp = np.arange(CHUNK, dtype=np.float32) / np.float32(CHUNK)
    curve: npt.NDArray[np.float32] = (here[:, None] + (following - here)[:, None] * ramp[None, :]).reshape(-1)
    return curve[:frames]


def _encode_samples(audio: _Audio, codec: str) -> bytes:
    if codec == "pcm_s16le":
        # As ffmpeg converts float to s16: scale by 32768, round to nearest, clip.
        return bytes(np.clip(np.rint(audio * np.float32(32768)), -32768, 32767).astype("<i2").tobytes())
    return bytes(np.ascontiguousarray(audio, dtype="<f4").tobytes())


def write_output(
    blocks: Sequence[tuple[Path, BlockStats]],
    final: FinalGain,
    *,
    channels: int,
    sample_rate: int,
    layout: str | None,
    total_frames: int,
    codec: str,
    cache: Path,
    out: Path,
    workers: int = 2,
) -> GatingSums | None:
    """Write the WAV file: the blocks through the final gain (and limiter), encoded in ``codec``.

    Each output block is cached too, keyed by its mix block, the block before it (whose tail warms the
    loudness filter), the gain and the limiter's gains around it: after an edit that leaves the gain as
    it was, only the blocks that changed are computed again; the others are copied.

    Up to ``workers`` blocks are computed at once (threads); they are written in order, and the bytes
    do not depend on ``workers``.

    Returns the output's gating sums where the limiter changed it (``None``: the output is exactly the
    mix times ``final.gain``, whose loudness is known without measuring).
    """
    cache.mkdir(parents=True, exist_ok=True)
    limited = final.chunk_gains is not None
    frame_bytes = 4 * channels
    sample_bytes = 2 if codec == "pcm_s16le" else 4
    # Where each block goes and the block before it: known up front, so blocks are computed in parallel.
    placed: list[tuple[Path, Path | None, int, int]] = []
    position = 0
    previous: Path | None = None
    for raw, _ in blocks:
        frames = raw.stat().st_size // frame_bytes
        placed.append((raw, previous, position, frames))
        previous = raw
        position += frames

    def one(item: tuple[Path, Path | None, int, int]) -> tuple[bytes, GatingSums | None]:
        raw, previous, position, frames = item
        key = _output_key(raw, previous, final, position=position, frames=frames, codec=codec)
        pcm_path, sums_path = cache / f"out-{key}.pcm", cache / f"out-{key}.json"
        part = _load_sums(sums_path) if limited else None
        whole = pcm_path.is_file() and pcm_path.stat().st_size == frames * channels * sample_bytes
        if whole and (part is not None or not limited):
            return pcm_path.read_bytes(), part
        audio = np.fromfile(raw, dtype="<f4").reshape(-1, channels)
        if final.chunk_gains is not None:
            audio *= _limiter_curve(final.chunk_gains, final.gain, position, frames)[:, None]
            part = _measure_output(
                audio,
                previous,
                final,
                position=position,
                sample_rate=sample_rate,
                channels=channels,
                layout=layout,
            )
            _save_sums(sums_path, part)
        elif final.gain != 1.0:
            audio *= np.float32(final.gain)
        data = _encode_samples(audio, codec)
        _write_atomic(pcm_path, lambda handle: handle.write(data))
        return data, part

    parts: list[GatingSums] = []
    with out.open("wb") as sink:
        sink.write(
            wav_header(
                sample_rate=sample_rate, channels=channels, layout=layout, codec=codec, frames=total_frames
            )
        )
        for data, part in _ordered_map(one, placed, workers):
            sink.write(data)
            if part is not None:
                parts.append(part)
        if position < total_frames:  # a block file shorter than planned: keep the track's length exact
            sink.write(bytes((total_frames - position) * channels * sample_bytes))
    return combine(parts) if limited else None


def _output_key(
    raw: Path, previous: Path | None, final: FinalGain, *, position: int, frames: int, codec: str
) -> str:
    parts: list[bytes | str] = [raw.stem, previous.stem if previous else "", repr(final.gain), codec]
    if final.chunk_gains is not None:
        first = position // CHUNK
        parts.append(
            final.chunk_gains[max(0, first - _TAIL_CHUNKS) : first + -(-frames // CHUNK) + 1].tobytes()
        )
    return _digest(*parts)


def _measure_output(
    audio: _Audio,
    previous: Path | None,
    final: FinalGain,
    *,
    position: int,
    sample_rate: int,
    channels: int,
    layout: str | None,
) -> GatingSums:
    """Gating sums of one limited output block, the filter warmed on the previous block's output tail."""
    meter = LoudnessMeter(sample_rate, channels, layout, start_frame=position)
    if previous is not None and final.chunk_gains is not None and position:
        tail = min(position, _TAIL_CHUNKS * CHUNK)
        before = np.fromfile(
            previous, dtype="<f4", offset=previous.stat().st_size - tail * channels * 4
        ).reshape(-1, channels)
        before = before * _limiter_curve(final.chunk_gains, final.gain, position - tail, tail)[:, None]
        meter.warm(before)
    meter.add(audio)
    return meter.sums()


def _save_sums(path: Path, sums: GatingSums) -> None:
    payload = {"first": sums.first, "sums": sums.sums.tolist(), "peak": sums.peak}
    _write_atomic(path, lambda handle: handle.write(json.dumps(payload).encode()))


def _load_sums(path: Path) -> GatingSums | None:
    try:
        payload = json.loads(path.read_text())
        return GatingSums(
            int(payload["first"]), np.asarray(payload["sums"], dtype=np.float64), payload["peak"]
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
