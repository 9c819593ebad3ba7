"""The dub encoded to AAC block by block, in parallel, each block cached by the audio it was made from.

An AAC encoder's frame ``k`` (1024 samples) depends on the samples just before it (the MDCT overlaps
frames, and the encoder primes the stream with one silent frame), so blocks cannot simply be encoded
apart and joined. Each block is encoded with ``_MARGIN`` frames of the track before and after it and
only its own frames are kept: the frames on either side of a seam come from encoders that saw the
same signal around it, so the decoder's overlap-add cancels as in a one-piece encode (measured on a
ten-minute dub: the same SNR against the source as a whole-track encode, 30.7 dB, and no larger
error next to the seams than elsewhere). The kept ADTS frames are concatenated; the first block keeps
the encoder's priming frame, which the muxer skips through an edit list (`PRIMING` samples,
``-itsoffset``), so the result is sample-aligned with the track; it ends on the track's last whole AAC
frame (never after the input).

Blocks are the mix's blocks (`dubkit.media.blockmix.block_frames`, whole AAC frames). The cache key of
a block is a digest of the PCM it is encoded from (its frames and margins) and the encoder settings, so
after an edit only the blocks whose audio changed are encoded again, and with two cores a full encode
takes about half as long as one ffmpeg run over the whole track.
"""

from __future__ import annotations

import concurrent.futures
import functools
import hashlib
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import attrs
import ffmpeg as ffmpeg_python
import numpy as np

from dubkit.errors import FFmpegError
from dubkit.media.binaries import FFmpeg
from dubkit.media.blockmix import block_bounds, block_frames
from dubkit.media.command import ffmpeg_argv, file_url
from dubkit.media.pcm import PcmFile, open_pcm
from dubkit.media.process import open_feed, run_process
from dubkit.media.wav import default_layout

__all__ = ["PRIMING", "EncodedDub", "encode_blocks", "split_adts"]

logger = logging.getLogger(__name__)

#: Samples of silence the AAC encoder puts before the first real frame.
PRIMING = 1024
_FRAME = 1024
_MARGIN = 2  # frames of context encoded on each side of a block
_VERSION = 1
_BATCH_BLOCKS = 8  # blocks per ffmpeg run (about four minutes of audio)
_SEND_BYTES = 1 << 20  # what a feed reads from disk at a time


@attrs.frozen(slots=True)
class EncodedDub:
    """The dub as an ADTS AAC stream starting with `PRIMING` samples of encoder delay.

    Attributes:
        path: The ADTS file.
        sample_rate: Hz (the muxer's edit list skips ``PRIMING / sample_rate`` seconds).
        encoded: Blocks encoded now (the others came from the cache).
        blocks: Blocks in all.
    """

    path: Path
    sample_rate: int
    encoded: int
    blocks: int


def split_adts(data: bytes) -> list[bytes]:
    """The frames of an ADTS stream.

    Raises:
        ValueError: The bytes are not a whole ADTS stream.
    """
    frames: list[bytes] = []
    position = 0
    while position < len(data):
        header = data[position : position + 7]
        if len(header) < 7 or header[0] != 0xFF or header[1] & 0xF0 != 0xF0:
            raise ValueError(f"no ADTS sync word at byte {position}")
        length = ((header[3] & 0x03) << 11) | (header[4] << 3) | (header[5] >> 5)
        if length < 7 or position + length > len(data):
            raise ValueError(f"bad ADTS frame length {length} at byte {position}")
        frames.append(data[position : position + length])
        position += length
    return frames


@attrs.frozen(slots=True)
class _Job:
    index: int
    start: int
    end: int
    before: int
    after: int
    key: str
    cached: Path


def _encode(
    batch: Sequence[_Job], pcm: PcmFile, *, layout: str, bitrate: str, temp: Path, ffmpeg: FFmpeg, cwd: Path
) -> None:
    """Encode a batch of blocks in one ffmpeg run (one raw pipe in, one ADTS file out per block)."""
    feeds, outputs, written = [], [], []
    for job in batch:
        first = job.start - job.before
        feed = open_feed(functools.partial(_send, pcm, first, job.end + job.after - first))
        feeds.append(feed)
        raw = ffmpeg_python.input(
            feed.url,
            protocol_whitelist="pipe",
            f=pcm.raw_format,
            sample_rate=pcm.sample_rate,
            ch_layout=layout,
        )
        out = temp / f"block{job.index:05d}.adts"
        written.append(out)
        outputs.append(
            ffmpeg_python.output(
                raw.audio,
                file_url(out),
                f="adts",
                acodec="aac",
                audio_bitrate=bitrate,
                aac_coder="fast",  # 2.5x quicker than the two-loop search, indistinguishable on speech
                fflags="+bitexact",
            )
        )
    argv = ffmpeg_argv(ffmpeg, ffmpeg_python.merge_outputs(*outputs))
    run_process(argv, cwd=cwd, limits=ffmpeg.limits, feeds=feeds, path=pcm.path)
    for job, out in zip(batch, written, strict=True):
        _keep(job, out, pcm.path)


def _send(pcm: PcmFile, first: int, count: int, sink: BinaryIO) -> None:
    """Frames ``[first, first + count)`` of ``pcm`` into an encoder's pipe, read a piece at a time."""
    step = max(1, _SEND_BYTES // (np.dtype(pcm.dtype).itemsize * pcm.channels))
    for start in range(first, first + count, step):
        sink.write(pcm.read_bytes(start, min(step, first + count - start)))


def _keep(job: _Job, encoded: Path, source: Path) -> None:
    """Cache the frames of one encoded block that are its own (not its margins')."""
    try:
        frames = split_adts(encoded.read_bytes())
    except ValueError as exc:
        raise FFmpegError(f"the AAC encoder wrote a broken stream: {exc}", path=str(source)) from exc
    # Frame k (after the priming frame 0) decodes to samples [(k - 1) * 1024, k * 1024) of the input.
    keep_from = 0 if job.start == 0 else job.before // _FRAME + 1
    # Whole frames only: the track ends on the last whole frame, up to 1023 samples (23 ms at 44.1 kHz)
    # before the input does (ADTS frames carry no duration, so a longer last frame could not be trimmed
    # and would make the file longer than its input).
    keep_to = job.before // _FRAME + 1 + (job.end - job.start) // _FRAME
    if len(frames) < keep_to:
        raise FFmpegError(f"the AAC encoder wrote {len(frames)} frames, {keep_to} expected", path=str(source))
    staged = job.cached.with_name(f".{job.cached.name}.{os.getpid()}.tmp")
    try:
        staged.write_bytes(b"".join(frames[keep_from:keep_to]))
        os.replace(staged, job.cached)
    finally:
        staged.unlink(missing_ok=True)
    encoded.unlink(missing_ok=True)


def encode_blocks(
    dubbed: Path,
    out: Path,
    *,
    total_frames: int,
    layout: str | None,
    bitrate: str,
    cache: Path,
    temp: Path,
    ffmpeg: FFmpeg,
    cwd: Path,
    workers: int = 2,
) -> EncodedDub:
    """Encode a WAV to ADTS AAC at ``out``, block by block (see the module docs).

    Args:
        dubbed: The dub (a WAV file); frames past its end are silence, frames past ``total_frames`` cut.
        out: The ADTS file to write.
        total_frames: How long the encoded track is, in frames.
        layout: The channel layout (ffmpeg's name; the default for the channel count when ``None``).
        bitrate: AAC bitrate (``128k``).
        cache: Folder of encoded blocks (created if missing).
        temp: Folder for the encoders' own output.
        ffmpeg: The binaries.
        cwd: Working directory of the runs.
        workers: Encoders run at once.

    Raises:
        FFmpegError: An encoder failed or wrote something unexpected.
    """
    pcm = open_pcm(dubbed)
    layout_name = layout or default_layout(pcm.channels) or f"{pcm.channels}c"
    cache.mkdir(parents=True, exist_ok=True)
    settings = f"{_VERSION}:{ffmpeg.version}:{bitrate}:{pcm.sample_rate}:{layout_name}"
    jobs: list[_Job] = []
    bounds = block_bounds(total_frames, block_frames(pcm.sample_rate))
    for index, (start, end) in enumerate(bounds):
        before = min(start, _MARGIN * _FRAME)
        after = _MARGIN * _FRAME if end < total_frames else 0
        digest = hashlib.sha256(settings.encode())
        digest.update(f":{start == 0}:{before}:{after}:{end - start}".encode())
        digest.update(pcm.read_bytes(start - before, end + after - start + before))
        key = digest.hexdigest()[:32]
        jobs.append(_Job(index, start, end, before, after, key, cache / f"aac-{key}.adts"))
    missing = [job for job in jobs if not _is_whole(job)]
    # A few blocks per ffmpeg run, ``workers`` runs at a time: process start-up is paid once per batch,
    # not once per block, and a run's inputs (each a pipe fed from disk by a thread) stay few however long
    # the track is.
    runs = max(1, min(workers, len(missing)))
    share = max(1, min(_BATCH_BLOCKS, -(-len(missing) // runs))) if missing else 1
    batches = [missing[i : i + share] for i in range(0, len(missing), share)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=runs) as pool:
        futures = [
            pool.submit(
                _encode, batch, pcm, layout=layout_name, bitrate=bitrate, temp=temp, ffmpeg=ffmpeg, cwd=cwd
            )
            for batch in batches
        ]
        for future in futures:
            future.result()
    _concatenate([job.cached for job in jobs], out)
    logger.debug("AAC: %d of %d blocks encoded, the rest cached", len(missing), len(jobs))
    return EncodedDub(out, pcm.sample_rate, len(missing), len(jobs))


def _is_whole(job: _Job) -> bool:
    """Whether the cached block is there, parses as ADTS and holds the frames it should."""
    if not job.cached.is_file():
        return False
    try:
        frames = split_adts(job.cached.read_bytes())
    except ValueError:
        return False
    return len(frames) == (1 if job.start == 0 else 0) + (job.end - job.start) // _FRAME


def _concatenate(parts: Sequence[Path], out: Path) -> None:
    with out.open("wb") as sink:
        for part in parts:
            sink.write(part.read_bytes())
