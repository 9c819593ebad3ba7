"""The tus resumable upload protocol (https://tus.io, core 1.0.0): its headers, parsed and checked.

Only the wire format lives here; the uploads themselves are `dubkit.server.tus_store`, the endpoints
`dubkit.server.routes_tus`.
"""

from __future__ import annotations

import base64
import binascii
import re
from email.utils import formatdate

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dubkit.server.problems import ProblemError

__all__ = [
    "CHUNK_CONTENT_TYPE",
    "EXTENSIONS",
    "TUS_VERSION",
    "TusResumableMiddleware",
    "check_version",
    "http_date",
    "parse_length",
    "parse_metadata",
]

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"
CHUNK_CONTENT_TYPE = "application/offset+octet-stream"
MAX_METADATA = 4096
"""The longest ``Upload-Metadata`` header accepted (characters)."""

_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_DIGITS = re.compile(r"^[0-9]{1,19}$")


def check_version(headers: Headers) -> None:
    """Every tus request but ``OPTIONS`` names the protocol version it speaks.

    Raises:
        ProblemError: 412 (with ``Tus-Version``), the version is missing or not ``1.0.0``.
    """
    asked = headers.get("tus-resumable")
    if asked != TUS_VERSION:
        raise ProblemError(
            412,
            f"send Tus-Resumable: {TUS_VERSION} (got {asked!r})",
            code="tus_version",
            headers={"Tus-Version": TUS_VERSION},
        )


def parse_length(value: str | None, header: str) -> int:
    """A non-negative integer header (``Upload-Length``, ``Upload-Offset``).

    Raises:
        ProblemError: 400, the header is missing or not a plain number.
    """
    if value is None or not _DIGITS.match(value.strip()):
        raise ProblemError(400, f"{header} must be a non-negative integer", code="tus_bad_header")
    return int(value.strip())


def parse_metadata(value: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (the value may be left out).

    Raises:
        ProblemError: 400, the header is too long, malformed, repeats a key, or a value is not base64 of
            UTF-8 text.
    """
    if not value or not value.strip():
        return {}
    if len(value) > MAX_METADATA:
        raise ProblemError(400, f"Upload-Metadata is over {MAX_METADATA} characters", code="tus_bad_header")
    metadata: dict[str, str] = {}
    for pair in value.split(","):
        parts = pair.strip().split(" ")
        if len(parts) > 2 or not _KEY.match(parts[0]) or parts[0] in metadata:
            raise ProblemError(400, "malformed Upload-Metadata", code="tus_bad_header")
        try:
            text = base64.b64decode(parts[1], validate=True).decode("utf-8") if len(parts) == 2 else ""
        except (binascii.Error, UnicodeDecodeError):
            raise ProblemError(
                400,
                f"Upload-Metadata value of {parts[0]!r} is not base64 of UTF-8 text",
                code="tus_bad_header",
            ) from None
        metadata[parts[0]] = text
    return metadata


def http_date(epoch_seconds: float) -> str:
    """An RFC 9110 date (``Upload-Expires``)."""
    return formatdate(epoch_seconds, usegmt=True)


class TusResumableMiddleware:
    """Adds ``Tus-Resumable: 1.0.0`` to every response under the tus endpoint, errors included.

    Args:
        app: The application.
        path: The tus endpoint (``/api/v1/uploads``); its sub-paths are included.
    """

    def __init__(self, app: ASGIApp, *, path: str) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; add the header to a tus response."""
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == self.path or path.startswith(self.path + "/")):
            await self.app(scope, receive, send)
            return

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Tus-Resumable"] = TUS_VERSION
            await send(message)

        await self.app(scope, receive, send_with_version)
