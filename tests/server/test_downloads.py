"""`parse_range`: the single byte ranges of RFC 9110 §14, suffixes, and what is ignored or unsatisfiable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dubkit.server.downloads import ByteRange, RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-99", ByteRange(0, 99)),
        ("bytes=100-", ByteRange(100, 999)),
        ("bytes=-100", ByteRange(900, 999)),
        ("bytes=-5000", ByteRange(0, 999)),
        ("bytes=990-5000", ByteRange(990, 999)),
        ("bytes = 5-6", ByteRange(5, 6)),
        (None, None),
        ("", None),
        ("bytes=5-1", None),  # invalid: ignored, the whole file is sent
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("items=0-1", None),
        ("bytes=-", None),
        ("bytes=abc", None),
    ],
)
def test_ranges(header: str | None, expected: ByteRange | None) -> None:
    assert parse_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0"])
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range(header, 1000)


def test_any_range_of_an_empty_file_is_unsatisfiable() -> None:
    with pytest.raises(RangeNotSatisfiable):
        parse_range("bytes=-1", 0)


@given(st.integers(0, 10_000), st.integers(0, 10_000), st.integers(1, 5_000))
def test_a_satisfiable_range_lies_inside_the_file(first: int, last: int, size: int) -> None:
    try:
        found = parse_range(f"bytes={first}-{last}", size)
    except RangeNotSatisfiable:
        assert first >= size
        return
    if found is not None:
        assert 0 <= found.start <= found.end < size and found.length == min(last, size - 1) - first + 1
    else:
        assert last < first
