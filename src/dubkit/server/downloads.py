"""Files streamed from storage with HTTP Range support (RFC 9110 §14): 206, suffix ranges, 416."""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs
from starlette.responses import Response, StreamingResponse

from dubkit.server.filenames import content_disposition
from dubkit.storage import Storage

__all__ = ["ByteRange", "RangeNotSatisfiable", "parse_range", "ranged_response"]

_CHUNK = 256 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


@attrs.frozen
class ByteRange:
    """Bytes ``start`` to ``end`` inclusive."""

    start: int
    end: int

    @property
    def length(self) -> int:
        """Bytes in the range."""
        return self.end - self.start + 1


class RangeNotSatisfiable(Exception):
    """The range asked for lies past the end of the file."""


def parse_range(header: str | None, size: int) -> ByteRange | None:
    """The single byte range a ``Range`` header asks for, or ``None`` to send the whole file.

    A missing, malformed or multi-range header means the whole file (servers may ignore ``Range``).

    Raises:
        RangeNotSatisfiable: The range starts at or past the end, or is an empty suffix.
    """
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if match is None:
        return None
    first, last = match.group(1), match.group(2)
    if not first and not last:
        return None
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable
        return ByteRange(max(0, size - suffix), size - 1)
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable
    return ByteRange(start, min(end, size - 1))


def _chunks(storage: Storage, key: str, start: int, length: int) -> Iterator[bytes]:
    with storage.open_read(key) as handle:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(_CHUNK, remaining))
            if not chunk:
                return
            remaining -= len(chunk)
            yield chunk


def ranged_response(
    storage: Storage,
    key: str,
    size: int,
    *,
    media_type: str,
    filename: str,
    range_header: str | None,
    disposition: str = "attachment",
) -> Response:
    """Stream ``key`` (``size`` bytes) from storage, whole (200) or the range asked for (206, or 416)."""
    headers = {
        "Accept-Ranges": "bytes",
        "Content-Disposition": content_disposition(filename, disposition=disposition),
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, no-cache",
    }
    try:
        wanted = parse_range(range_header, size)
    except RangeNotSatisfiable:
        headers["Content-Range"] = f"bytes */{size}"
        return Response(status_code=416, headers=headers)
    if wanted is None:
        headers["Content-Length"] = str(size)
        return StreamingResponse(_chunks(storage, key, 0, size), media_type=media_type, headers=headers)
    headers["Content-Range"] = f"bytes {wanted.start}-{wanted.end}/{size}"
    headers["Content-Length"] = str(wanted.length)
    return StreamingResponse(
        _chunks(storage, key, wanted.start, wanted.length),
        status_code=206,
        media_type=media_type,
        headers=headers,
    )
