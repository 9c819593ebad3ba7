"""Chunks of the timeline: regions grouped between regions, and VAD chunks cut at silences."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dubkit.models import SpeechRegion
from dubkit.stages.chunking import chunk_regions, settled_regions


@st.composite
def region_lists(draw: st.DrawFn, *, max_gap: float = 5.0, max_length: float = 20.0) -> list[SpeechRegion]:
    gaps = draw(st.lists(st.floats(0.0, max_gap), min_size=1, max_size=40))
    lengths = draw(st.lists(st.floats(0.05, max_length), min_size=len(gaps), max_size=len(gaps)))
    regions, cursor = [], 0.0
    for gap, length in zip(gaps, lengths, strict=True):
        regions.append(SpeechRegion(cursor + gap, cursor + gap + length))
        cursor += gap + length
    return regions


@given(region_lists(), st.floats(1.0, 60.0))
def test_chunks_keep_every_region_in_order_and_stay_within_the_span(
    regions: list[SpeechRegion], chunk_seconds: float
) -> None:
    chunks = chunk_regions(regions, chunk_seconds)
    assert [r for chunk in chunks for r in chunk] == regions
    for chunk in chunks:
        assert chunk, "no empty chunk"
        assert len(chunk) == 1 or chunk[-1].end - chunk[0].start <= chunk_seconds
    for before, after in itertools.pairwise(chunks):
        # A chunk ends only where adding the next region would overflow it.
        assert after[0].end - before[0].start > chunk_seconds


def test_a_non_positive_chunk_length_is_refused() -> None:
    with pytest.raises(ValueError, match="chunk_seconds"):
        chunk_regions([SpeechRegion(0.0, 1.0)], 0.0)


def test_a_region_running_into_the_chunk_end_is_left_to_the_next_chunk() -> None:
    regions = [SpeechRegion(1.0, 3.0), SpeechRegion(4.0, 8.5), SpeechRegion(9.5, 10.0)]
    kept, advance = settled_regions(regions, 10.0, guard=1.0, last=False)
    assert kept == (SpeechRegion(1.0, 3.0), SpeechRegion(4.0, 8.5))
    assert advance == 8.5  # the next chunk starts in the silence after the last settled region


def test_the_last_chunk_keeps_everything() -> None:
    regions = [SpeechRegion(4.0, 8.5), SpeechRegion(1.0, 3.0), SpeechRegion(9.5, 10.0)]
    kept, advance = settled_regions(regions, 10.0, guard=1.0, last=True)
    assert kept == (SpeechRegion(1.0, 3.0), SpeechRegion(4.0, 8.5), SpeechRegion(9.5, 10.0))
    assert advance == 10.0


def test_a_silent_chunk_moves_on_by_all_but_the_guard() -> None:
    assert settled_regions([], 10.0, guard=1.0, last=False) == ((), 9.0)


def test_speech_through_the_whole_chunk_is_cut_at_its_end() -> None:
    kept, advance = settled_regions([SpeechRegion(0.2, 12.0)], 10.0, guard=1.0, last=False)
    assert kept == (SpeechRegion(0.2, 10.0),)
    assert advance == 10.0


@given(region_lists(max_gap=3.0, max_length=8.0), st.floats(3.0, 40.0), st.booleans())
def test_settled_regions_always_advance_and_keep_no_region_past_the_next_start(
    regions: list[SpeechRegion], length: float, last: bool
) -> None:
    inside = [r for r in regions if r.start < length]
    kept, advance = settled_regions(inside, length, guard=1.0, last=last)
    assert 0 < advance <= length
    assert all(r.end <= advance + 1e-9 or last for r in kept)
    assert list(kept) == sorted(kept, key=lambda r: r.start)
    assert set(kept) <= set(inside) | {SpeechRegion(r.start, min(r.end, length)) for r in inside}
