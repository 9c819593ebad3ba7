"""Client file names: display-only text, never a path; and the headers that carry them back."""

from __future__ import annotations

import unicodedata
from pathlib import PurePath
from urllib.parse import quote

__all__ = ["content_disposition", "display_filename"]

MAX_NAME = 200
"""Longest display name kept (characters); longer names keep their start and extension."""


def display_filename(raw: str | None, *, default: str = "upload", max_length: int = MAX_NAME) -> str:
    """A safe display name for a client's file name (never a path).

    Its last path component, NFC-normalised, without control or format characters, trimmed, at most
    ``max_length`` characters (extension kept), never ``.``/``..`` or empty (``default`` then).
    """
    text = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = unicodedata.normalize("NFC", text)
    text = "".join(
        ch
        for ch in text
        if unicodedata.category(ch)[0] != "C" and unicodedata.category(ch) not in ("Zl", "Zp")
    )
    text = " ".join(text.split()).strip(" .")
    if not text:
        return default
    if len(text) > max_length:
        suffix = PurePath(text).suffix
        suffix = suffix if 1 < len(suffix) <= 16 else ""
        text = text[: max_length - len(suffix)].rstrip(" .") + suffix
    return text


def _ascii_fallback(name: str, default: str) -> str:
    folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    cleaned = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;%' else "_" for ch in folded).strip(" ._")
    return cleaned or default


def content_disposition(name: str, *, disposition: str = "attachment", default: str = "download") -> str:
    """A ``Content-Disposition`` value (RFC 6266): an ASCII ``filename`` and a UTF-8 ``filename*`` (RFC 5987).

    ``name`` passes through `display_filename` first, so no CR, LF or control character reaches the header.
    """
    safe = display_filename(name, default=default, max_length=MAX_NAME + 64)
    fallback = _ascii_fallback(safe, default)
    return f"{disposition}; filename=\"{fallback}\"; filename*=UTF-8''{quote(safe, safe='')}"
