"""Laying rendered clips on a timeline, streamed: no whole-track buffer in memory, no whole-track temp file.

Clips are rendered to raw PCM at the track's rate and layout. They are then spread over as few layers as
possible such that no two clips in a layer overlap (with well-fitted timing there is one), and each layer is
streamed into an ffmpeg pipe as silence and clip bytes copied in blocks. ffmpeg sums the layers.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import attrs

__all__ = ["ByteSink", "Placement", "assign_layers", "write_layer"]

_BLOCK = 1 << 20


class ByteSink(Protocol):
    """Where a layer is written: a pipe's write end, a file, a buffer."""

    def write(self, data: bytes, /) -> object:
        """Write bytes."""


@attrs.frozen(slots=True)
class Placement:
    """A rendered clip at its place on the timeline.

    Attributes:
        start: First sample frame.
        frames: Length in sample frames.
        raw: Raw interleaved PCM at the timeline's format.
        segment_id: The segment it voices.
    """

    start: int
    frames: int
    raw: Path
    segment_id: str = ""

    @property
    def end(self) -> int:
        """First frame after the clip."""
        return self.start + self.frames


def assign_layers(placements: Sequence[Placement]) -> list[list[Placement]]:
    """Split clips into the fewest layers in which none overlap, each in time order (interval colouring)."""
    layers: list[list[Placement]] = []
    free: list[tuple[int, int]] = []  # (end of the layer's last clip, layer number)
    for item in sorted(placements, key=lambda p: (p.start, p.end)):
        if free and free[0][0] <= item.start:
            _, number = heapq.heappop(free)
        else:
            number = len(layers)
            layers.append([])
        layers[number].append(item)
        heapq.heappush(free, (item.end, number))
    return layers


def _zeros(sink: ByteSink, count: int, block: bytes) -> None:
    while count > 0:
        step = min(count, len(block))
        sink.write(block[:step] if step < len(block) else block)
        count -= step


def write_layer(sink: ByteSink, layer: Sequence[Placement], *, total_frames: int, frame_bytes: int) -> None:
    """Stream one layer: silence, then each clip's bytes at its place, then silence up to ``total_frames``.

    Clips must not overlap and must be in time order; the part of a clip past ``total_frames`` is cut.
    """
    block = bytes(_BLOCK - _BLOCK % frame_bytes)
    position = 0
    for item in layer:
        if item.start >= total_frames:
            break
        if item.start < position:
            raise ValueError("clips in a layer overlap")
        _zeros(sink, (item.start - position) * frame_bytes, block)
        remaining = (min(item.end, total_frames) - item.start) * frame_bytes
        with item.raw.open("rb") as clip:
            while remaining > 0:
                chunk = clip.read(min(remaining, len(block)))
                if not chunk:
                    break
                sink.write(chunk)
                remaining -= len(chunk)
        _zeros(sink, remaining, block)  # a clip shorter than announced: keep the timeline exact
        position = min(item.end, total_frames)
    _zeros(sink, (total_frames - position) * frame_bytes, block)
