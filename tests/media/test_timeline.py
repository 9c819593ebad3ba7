"""Layers of non-overlapping clips, streamed byte-exactly."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dubkit.media.timeline import Placement, assign_layers, write_layer

intervals = st.lists(st.tuples(st.integers(0, 1000), st.integers(1, 200)), max_size=60)


@given(intervals)
def test_layers_hold_every_clip_without_overlap_and_are_fewest(spans: list[tuple[int, int]]) -> None:
    placements = [Placement(start, frames, Path(f"/c{i}")) for i, (start, frames) in enumerate(spans)]
    layers = assign_layers(placements)
    assert sorted(p.raw for layer in layers for p in layer) == sorted(p.raw for p in placements)
    for layer in layers:
        for first, second in itertools.pairwise(layer):
            assert first.end <= second.start
    depth = max((sum(1 for p in placements if p.start <= t < p.end) for t in range(1200)), default=0)
    assert len(layers) == depth  # interval colouring is optimal


def test_write_layer(tmp_path: Path) -> None:
    a, b = tmp_path / "a.raw", tmp_path / "b.raw"
    a.write_bytes(b"AAAAAAAA")  # 2 frames of 4 bytes
    b.write_bytes(b"BBBBBBBBBBBB")  # 3 frames, the last cut by the end of the track
    layer = [Placement(1, 2, a), Placement(5, 3, b)]
    sink = io.BytesIO()
    write_layer(sink, layer, total_frames=7, frame_bytes=4)
    assert sink.getvalue() == bytes(4) + b"AAAAAAAA" + bytes(8) + b"BBBBBBBB"


def test_a_short_clip_keeps_the_timeline_exact(tmp_path: Path) -> None:
    a = tmp_path / "a.raw"
    a.write_bytes(b"AAAA")  # announced as 3 frames, holds 1
    sink = io.BytesIO()
    write_layer(sink, [Placement(0, 3, a)], total_frames=4, frame_bytes=4)
    assert sink.getvalue() == b"AAAA" + bytes(12)


def test_overlap_in_one_layer_is_a_bug(tmp_path: Path) -> None:
    a = tmp_path / "a.raw"
    a.write_bytes(bytes(16))
    with pytest.raises(ValueError):
        write_layer(io.BytesIO(), [Placement(0, 4, a), Placement(2, 4, a)], total_frames=10, frame_bytes=4)


def test_long_gaps_stream_in_blocks(tmp_path: Path) -> None:
    class Counter:
        def __init__(self) -> None:
            self.total = 0
            self.largest = 0

        def write(self, data: bytes, /) -> int:
            self.total += len(data)
            self.largest = max(self.largest, len(data))
            return len(data)

    sink = Counter()
    write_layer(sink, [], total_frames=48000 * 3600, frame_bytes=8)  # an hour of stereo float silence
    assert sink.total == 48000 * 3600 * 8
    assert sink.largest <= 1 << 20
