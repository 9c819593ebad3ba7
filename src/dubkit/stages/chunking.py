"""Long inputs cut into chunks of the timeline, each a unit of work and a checkpoint."""

from __future__ import annotations

from collections.abc import Sequence

from dubkit.models.speech import SpeechRegion

__all__ = ["chunk_regions"]


def chunk_regions(regions: Sequence[SpeechRegion], chunk_seconds: float) -> list[tuple[SpeechRegion, ...]]:
    """Consecutive regions grouped into chunks spanning at most ``chunk_seconds`` of the timeline.

    A chunk is cut only between two regions; a region longer than ``chunk_seconds`` is a chunk alone.

    Raises:
        ValueError: ``chunk_seconds`` is not positive.
    """
    if chunk_seconds <= 0:
        raise ValueError(f"chunk_seconds must be positive, got {chunk_seconds}")
    chunks: list[list[SpeechRegion]] = []
    for region in sorted(regions, key=lambda r: (r.start, r.end)):
        if chunks and region.end - chunks[-1][0].start <= chunk_seconds:
            chunks[-1].append(region)
        else:
            chunks.append([region])
    return [tuple(chunk) for chunk in chunks]


def settled_regions(
    regions: Sequence[SpeechRegion], length: float, *, guard: float, last: bool
) -> tuple[tuple[SpeechRegion, ...], float]:
    """The regions of one chunk of audio that the next chunk cannot change, and where it starts.

    ``regions`` were detected in a chunk ``length`` seconds long (times from its start). A region
    that ends within ``guard`` seconds of the chunk's end may run on into the next chunk, so it and
    everything after it are dropped and the next chunk starts where the last settled region ends: in
    a silence the detector found. Returns every region of the ``last`` chunk. With no region settled,
    a silent chunk is kept empty and the next one starts ``guard`` seconds before its end; speech
    running through the whole chunk's end is cut there.

    Returns:
        The regions to keep and the next chunk's start, seconds from this chunk's start (> 0).
    """
    ordered = sorted(regions, key=lambda r: (r.start, r.end))
    if last:
        return tuple(ordered), length
    settled = tuple(r for r in ordered if r.end <= length - guard)
    if settled:
        return settled, settled[-1].end
    if not ordered:
        return (), max(length - guard, length / 2)
    return tuple(SpeechRegion(r.start, min(r.end, length)) for r in ordered if r.start < length), length
