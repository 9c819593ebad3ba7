"""Client file names are display-only text; Content-Disposition carries them safely (RFC 6266/5987)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dubkit.server.filenames import MAX_NAME, content_disposition, display_filename


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("talk.mp4", "talk.mp4"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\clip.mov", "clip.mov"),
        ("a\x00b\r\nc.mp4", "abc.mp4"),
        ("  spaced   out .mp4 ", "spaced out .mp4"),
        ("..", "upload"),
        ("", "upload"),
        (None, "upload"),
        ("e\u0301te\u0301.mp4", "\u00e9t\u00e9.mp4"),  # NFC
        ("bidi\u202etxt.mp4", "biditxt.mp4"),
    ],
)
def test_display_names(raw: str | None, shown: str) -> None:
    assert display_filename(raw) == shown


def test_long_names_keep_their_extension() -> None:
    name = display_filename("y" * 5000 + ".webm")
    assert len(name) == MAX_NAME and name.endswith(".webm")


@given(st.text(max_size=400))
def test_any_name_is_a_safe_single_segment(raw: str) -> None:
    name = display_filename(raw)
    assert name and len(name) <= MAX_NAME and "/" not in name and "\\" not in name
    assert name not in (".", "..") and not any(unicodedata.category(ch)[0] == "C" for ch in name)


def test_content_disposition_has_an_ascii_fallback_and_utf8_name() -> None:
    assert content_disposition('r\u00e9sum\u00e9 "v1".es.mp4') == (
        "attachment; filename=\"resume _v1_.es.mp4\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v1%22.es.mp4"
    )
    assert content_disposition("\u0432\u0438\u0434\u0435\u043e.mp4", disposition="inline").startswith(
        'inline; filename="mp4"'
    )


@given(st.text(max_size=300))
def test_content_disposition_never_breaks_a_header(raw: str) -> None:
    value = content_disposition(raw)
    assert value.isascii() and "\r" not in value and "\n" not in value
    fallback = value.split('filename="', 1)[1].split('"', 1)[0]
    assert fallback and '"' not in fallback and "\\" not in fallback
