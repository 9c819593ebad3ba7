"""The block mix: a re-mix after an edit renders only the blocks the edited clip reaches, and gives the
same bytes as a full render."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dubkit.media import FFmpeg, blockmix, mix, read_wav_info
from dubkit.media.blockmix import block_bounds, block_frames
from dubkit.media.pcm import open_pcm
from dubkit.models.media import AudioFile
from dubkit.models.speech import Clip, ClipTiming, TimingPlan, Voice

from .conftest import ffmpeg_make

RATE = 16000
VOICE = Voice("es", "es")


@pytest.fixture
def long_bed(tmp_path: Path) -> AudioFile:
    """100 s of quiet stereo noise: four blocks."""
    path = ffmpeg_make(
        tmp_path / "bed.wav",
        "-f",
        "lavfi",
        "-i",
        f"anoisesrc=d=100:c=pink:r={RATE}:a=0.03",
        "-ac",
        "2",
        "-c:a",
        "pcm_s16le",
    )
    return read_wav_info(path)


def _clip(segment: str, path: Path) -> Clip:
    info = read_wav_info(path)
    return Clip(segment, path, info.duration, info.sample_rate, VOICE, segment)


@pytest.fixture
def counted_renders(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts blocks rendered (the real renderer runs; only its calls are counted)."""
    calls: list[int] = []
    real = blockmix._render

    def counting(block: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(block.index)
        return real(block, *args, **kwargs)

    monkeypatch.setattr(blockmix, "_render", counting)
    return calls


def test_blocks_are_whole_aac_frames() -> None:
    assert block_frames(48000) % 1024 == 0
    assert block_frames(44100) == 1024 * 1292
    assert block_bounds(10, 4) == [(0, 4), (4, 8), (8, 10)]


@pytest.mark.parametrize("separated", [False, True], ids=["ducked", "voice-stem"])
def test_an_edit_renders_only_the_blocks_it_reaches(
    tmp_path: Path,
    long_bed: AudioFile,
    ffmpeg: FFmpeg,
    sine_wav: Callable[..., Path],
    counted_renders: list[int],
    separated: bool,
) -> None:
    stems: dict[str, AudioFile] = {}
    if separated:  # a voice stem (brown noise at 48 kHz: resampled to the track's rate) and a background
        voice = ffmpeg_make(
            tmp_path / "voice.wav", "-f", "lavfi", "-i", "anoisesrc=d=100:c=brown:r=48000:a=0.02", "-ac", "2"
        )
        stems = {"background": long_bed, "voice": read_wav_info(voice)}
    starts = [2.0, 20.0, 45.0, 70.0, 95.0]
    clips = [_clip(f"s{i}", sine_wav(f"s{i}.wav", 500 + 200 * i, 1.5)) for i in range(len(starts))]
    plan = TimingPlan(tuple(ClipTiming(f"s{i}", start=t, end=t + 1.5) for i, t in enumerate(starts)))
    cache = tmp_path / "cache"
    first = mix(
        plan,
        clips,
        original=long_bed,
        out_path=tmp_path / "a" / "dub.wav",
        ffmpeg=ffmpeg,
        cache_dir=cache,
        **stems,
    )
    blocks = len(block_bounds(round(long_bed.duration * RATE), block_frames(RATE)))
    assert sorted(counted_renders) == list(range(blocks)) == [0, 1, 2, 3]

    # Edit the line at 45 s (inside block 1: 30-60 s): one block is rendered again, the rest are reused.
    counted_renders.clear()
    edited = [*clips[:2], _clip("s2", sine_wav("edited.wav", 3000, 1.2)), *clips[3:]]
    remixed = mix(
        plan,
        edited,
        original=long_bed,
        out_path=tmp_path / "b" / "dub.wav",
        ffmpeg=ffmpeg,
        cache_dir=cache,
        **stems,
    )
    assert counted_renders == [1]

    # A full render of the edited plan in a fresh cache gives the same bytes.
    counted_renders.clear()
    full = mix(
        plan,
        edited,
        original=long_bed,
        out_path=tmp_path / "c" / "dub.wav",
        ffmpeg=ffmpeg,
        cache_dir=tmp_path / "fresh",
        **stems,
    )
    assert len(counted_renders) == blocks
    assert remixed.track.path.read_bytes() == full.track.path.read_bytes()
    assert remixed.loudness_lufs == full.loudness_lufs
    assert first.track.path.read_bytes() != full.track.path.read_bytes()

    # And the edit is where it should be: the new tone plays at 45 s, the old one no longer does.
    audio = open_pcm(full.track.path).read(0, round(long_bed.duration * RATE))[:, 0]
    window = audio[int(45.2 * RATE) : int(46.0 * RATE)]
    spectrum = np.abs(np.fft.rfft(window))
    freqs = np.fft.rfftfreq(len(window), 1 / RATE)
    assert abs(freqs[int(spectrum.argmax())] - 3000) < 5


def test_a_clip_near_a_block_edge_reaches_the_next_block(
    tmp_path: Path,
    long_bed: AudioFile,
    ffmpeg: FFmpeg,
    sine_wav: Callable[..., Path],
    counted_renders: list[int],
) -> None:
    edge = block_frames(RATE) / RATE  # about 30 s
    clips = [_clip("a", sine_wav("a.wav", 700, 1.0)), _clip("b", sine_wav("b.wav", 900, 1.0))]
    plan = TimingPlan(
        (ClipTiming("a", start=5.0, end=6.0), ClipTiming("b", start=edge - 1.5, end=edge - 0.5))
    )
    cache = tmp_path / "cache"
    mix(
        plan,
        clips,
        original=long_bed,
        out_path=tmp_path / "out" / "first.wav",
        ffmpeg=ffmpeg,
        cache_dir=cache,
    )
    counted_renders.clear()
    moved = TimingPlan((plan.timings[0], ClipTiming("b", start=edge - 1.4, end=edge - 0.4)))
    mix(
        moved,
        clips,
        original=long_bed,
        out_path=tmp_path / "out" / "second.wav",
        ffmpeg=ffmpeg,
        cache_dir=cache,
    )
    # The clip ends before block 1 starts, but block 1 is rendered from 2 s before its start (the ducking
    # release and the loudness filter carry over), so both blocks are rendered again.
    assert sorted(counted_renders) == [0, 1]  # blocks render two at a time, in either order


def test_the_limiter_never_lets_a_chunk_over_the_ceiling() -> None:
    import math

    from dubkit.media.blockmix import CHUNK, PEAK_MARGIN_DB, BlockStats, _limiter_curve, final_gain
    from dubkit.media.meter import GatingSums

    rng = np.random.default_rng(5)
    peaks = rng.uniform(0.01, 0.3, 400).astype(np.float32)
    peaks[[3, 4, 150, 399]] = [0.9, 0.95, 0.8, 0.99]  # a few loud chunks, one at the very end
    # Steady energy in every 100 ms step: about -20 LUFS, so the gain to -16 LUFS pushes the loud chunks over.
    steps = math.ceil(400 * CHUNK / 4800)
    sums = GatingSums(0, np.full(steps, 4800 * 10 ** ((-20 + 0.691) / 10)))
    stats = BlockStats(sums, peaks)
    final = final_gain(
        [(Path("unused"), stats)],
        sample_rate=48000,
        total_frames=400 * CHUNK,
        target_lufs=-16.0,
        ceiling_db=-1.5,
        silence_lufs=-70.0,
    )
    assert final.gain == pytest.approx(10 ** (4 / 20), rel=1e-3)
    assert final.chunk_gains is not None
    ceiling = 10 ** ((-1.5 - PEAK_MARGIN_DB) / 20)
    curve = np.concatenate(
        [
            _limiter_curve(final.chunk_gains, final.gain, start, 100 * CHUNK)
            for start in range(0, 400 * CHUNK, 100 * CHUNK)
        ]
    )
    reached = curve.reshape(400, CHUNK).max(axis=1) * peaks
    assert reached.max() <= ceiling * (1 + 1e-6)
    assert (curve <= final.gain * (1 + 1e-6)).all()
    quiet = peaks * final.gain < ceiling
    untouched = [c for c in range(10, 140) if quiet[c - 1 : c + 3].all()]
    assert np.allclose(curve.reshape(400, CHUNK)[untouched], final.gain, rtol=1e-5)


def test_a_redub_keeps_the_gain_it_had_while_the_loudness_stays_near_the_target() -> None:
    import math

    from dubkit.media.blockmix import CHUNK, KEEP_GAIN_LU, BlockStats, final_gain
    from dubkit.media.meter import GatingSums

    def gain_for(lufs: float, keep: float | None) -> float:
        steps = math.ceil(400 * CHUNK / 4800)
        sums = GatingSums(0, np.full(steps, 4800 * 10 ** ((lufs + 0.691) / 10)))
        stats = BlockStats(sums, np.full(400, 0.01, dtype=np.float32))
        return final_gain(
            [(Path("unused"), stats)],
            sample_rate=48000,
            total_frames=400 * CHUNK,
            target_lufs=-16.0,
            ceiling_db=-1.5,
            silence_lufs=-70.0,
            keep_gain_db=keep,
        ).gain_db

    assert gain_for(-20.04, None) == pytest.approx(4.0)  # a fresh mix: the nearest 0.1 dB step
    assert gain_for(-20.06, None) == pytest.approx(4.1)
    assert gain_for(-20.06, 4.0) == 4.0  # a re-dub that moved the loudness a little: the gain it had
    assert gain_for(-20.0 - KEEP_GAIN_LU + 0.01, 4.0) == 4.0
    assert gain_for(-20.0 - KEEP_GAIN_LU - 0.05, 4.0) == pytest.approx(4.6)  # too far: a new step


def test_blocks_rendered_two_at_a_time_give_the_same_bytes(
    tmp_path: Path, long_bed: AudioFile, ffmpeg: FFmpeg, sine_wav: Callable[..., Path]
) -> None:
    """Blocks are rendered and written on two threads by default; one thread gives the same file."""
    from dubkit.media.mix import MixOptions

    starts = [2.0, 29.5, 45.0, 88.0]
    clips = [_clip(f"s{i}", sine_wav(f"s{i}.wav", 500 + 200 * i, 2.0)) for i in range(len(starts))]
    plan = TimingPlan(tuple(ClipTiming(f"s{i}", start=t, end=t + 2.0) for i, t in enumerate(starts)))
    results = [
        mix(
            plan,
            clips,
            original=long_bed,
            out_path=tmp_path / f"w{workers}" / "dub.wav",
            ffmpeg=ffmpeg,
            cache_dir=tmp_path / f"cache{workers}",
            options=MixOptions(workers=workers),
            target_lufs=-10.0,  # loud enough for the limiter to work on some blocks
        )
        for workers in (1, 2, 3)
    ]
    data = [r.track.path.read_bytes() for r in results]
    assert data[0] == data[1] == data[2]
    assert len({r.loudness_lufs for r in results}) == 1
    assert list((tmp_path / "cache2" / "output").glob("out-*.json"))  # the limiter's path was taken


def test_ordered_map_keeps_order_and_few_items_in_flight() -> None:
    import threading
    import time

    lock = threading.Lock()
    running, most = [0], [0]

    def work(item: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.002 * (item % 3))
        with lock:
            running[0] -= 1
        return item * item

    taken = []

    def items() -> Any:
        for i in range(20):
            taken.append(i)
            yield i

    out = []
    for value in blockmix._ordered_map(work, items(), 2):
        out.append(value)
        # never more than workers + 1 items drawn ahead of what was handed back
        assert len(taken) - len(out) <= 3
    assert out == [i * i for i in range(20)]
    assert most[0] <= 2
    assert list(blockmix._ordered_map(work, range(5), 1)) == [0, 1, 4, 9, 16]
