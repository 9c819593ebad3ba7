"""Streamed multipart uploads, never held whole in memory, the size cap enforced while reading.

The body is read from ``request.stream()`` on the event loop, in batches of about 256 KiB that a worker
thread parses with python-multipart's `MultipartParser` and writes, file part by file part, to a staging
file: the loop only receives and counts bytes, so it stays free for other requests while many uploads
stream in.

Starlette's ``request.form()`` is not used: it spools files in memory up to a threshold and reads the whole
body before the handler can refuse it. Here a body over the cap is refused as soon as the cap is passed (or at
once when ``Content-Length`` says so) and the staging file is removed on every way out.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import anyio.to_thread
import attrs
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from dubkit.errors import ConfigError, UploadTooLargeError

__all__ = ["FILE_FIELD", "FORM_OVERHEAD", "StagedUpload", "staged_upload"]

logger = logging.getLogger(__name__)

FORM_OVERHEAD = 1024 * 1024
"""Bytes of a body allowed besides the file (boundaries, part headers, text fields)."""
FILE_FIELD = "file"
_BATCH = 256 * 1024
_MAX_FIELDS = 32
_MAX_FIELD_BYTES = 4096


@attrs.define
class StagedUpload:
    """A received upload: text fields, and the file staged on local disk.

    Attributes:
        fields: Text fields by name (a repeated name keeps every value, in order).
        filename: The client's file name, raw (display it only through `display_filename`).
        path: The staged file, or ``None`` when no file part came.
        size: Bytes of the file.
    """

    fields: dict[str, list[str]] = attrs.field(factory=dict)
    filename: str | None = None
    path: Path | None = None
    size: int = 0


class _Receiver:
    """The parser's callbacks (run on a worker thread): text fields in memory, file bytes to the staging file.

    Only one thread at a time uses a receiver: the upload awaits each batch before reading the next.
    """

    def __init__(self, upload: StagedUpload, max_file_bytes: int, staging_dir: Path) -> None:
        self.upload = upload
        self.max_file_bytes = max_file_bytes
        self.staging_dir = staging_dir
        self.path = staging_dir / f".upload-{secrets.token_hex(12)}.part"
        self.handle: BinaryIO | None = None
        self.files = 0
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._name: str | None = None
        self._text = bytearray()
        self._is_file = False

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def open_file(self) -> BinaryIO:
        if self.handle is None:
            self.staging_dir.mkdir(parents=True, exist_ok=True)
            self.handle = self.path.open("xb")
        return self.handle

    def remove_file(self) -> None:
        if self.handle is not None:
            with suppress(OSError):
                self.handle.close()
        with suppress(OSError):
            self.path.unlink(missing_ok=True)

    def part_begin(self) -> None:
        self._headers = {}
        self._field = self._value = b""
        self._name, self._is_file = None, False
        self._text = bytearray()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = params.get(b"name")
        if name is None:
            raise ConfigError("a form part has no name", field="body")
        self._name = name.decode("utf-8", "replace")
        if b"filename" in params or self._name == FILE_FIELD:
            if self._name != FILE_FIELD:
                raise ConfigError(
                    f"unexpected file field {self._name!r}; send the video as 'file'", field="file"
                )
            self.files += 1
            if self.files > 1:
                raise ConfigError("send exactly one file", field="file")
            self._is_file = True
            raw = params.get(b"filename")
            self.upload.filename = None if raw is None else raw.decode("utf-8", "replace")
            self.open_file()
        elif sum(len(v) for v in self.upload.fields.values()) >= _MAX_FIELDS:
            raise ConfigError(f"at most {_MAX_FIELDS} form fields", field="body")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self._is_file:
            self.upload.size += end - start
            if self.upload.size > self.max_file_bytes:
                raise UploadTooLargeError(self.upload.size, self.max_file_bytes)
            self.open_file().write(data[start:end])
        else:
            self._text += data[start:end]
            if len(self._text) > _MAX_FIELD_BYTES:
                raise ConfigError(
                    f"form field {self._name!r} is over {_MAX_FIELD_BYTES} bytes", field=self._name
                )

    def part_end(self) -> None:
        if not self._is_file and self._name is not None:
            value = self._text.decode("utf-8", "replace")
            self.upload.fields.setdefault(self._name, []).append(value)


class _Parser:
    """Feeds batches of the body to python-multipart on a worker thread."""

    def __init__(self, receiver: _Receiver, boundary: bytes) -> None:
        self.receiver = receiver
        self._parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]

    def _write(self, batch: list[bytes]) -> None:
        try:
            for chunk in batch:
                self._parser.write(chunk)
        except MultipartParseError as exc:
            raise ConfigError(f"malformed multipart body: {exc}", field="body") from None

    def _finish(self) -> Path:
        try:
            self._parser.finalize()
        except MultipartParseError as exc:
            raise ConfigError(f"malformed multipart body: {exc}", field="body") from None
        if not self.receiver.files:
            raise ConfigError("the upload has no 'file' part", field="file")
        handle = self.receiver.open_file()
        handle.close()
        return self.receiver.path

    async def write(self, batch: list[bytes]) -> None:
        await anyio.to_thread.run_sync(self._write, batch)

    async def finish(self) -> Path:
        return await anyio.to_thread.run_sync(self._finish)


def _declared_length(request: Request) -> int | None:
    raw = request.headers.get("content-length")
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError("Content-Length is not a number", field="content-length") from None


def _boundary(request: Request) -> bytes:
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary", b"")
    if kind != b"multipart/form-data" or not boundary or len(boundary) > 200:
        raise ConfigError("send the upload as multipart/form-data with a boundary", field="content-type")
    return boundary


@asynccontextmanager
async def staged_upload(
    request: Request, staging_dir: Path, max_file_bytes: int
) -> AsyncIterator[StagedUpload]:
    """Receive a multipart upload; the staged file exists inside the block and is removed after it.

    Raises:
        UploadTooLargeError: The body (or its ``Content-Length``) is over ``max_file_bytes`` plus
            `FORM_OVERHEAD`, or the file alone is over ``max_file_bytes``; the rest is not read.
        ConfigError: The body is not well-formed multipart/form-data of the expected fields.
    """
    max_body = max_file_bytes + FORM_OVERHEAD
    declared = _declared_length(request)
    if declared is not None and declared > max_body:
        raise UploadTooLargeError(declared, max_file_bytes)
    upload = StagedUpload()
    receiver = _Receiver(upload, max_file_bytes, staging_dir)
    parser = _Parser(receiver, _boundary(request))
    try:
        received, batch, batched = 0, [], 0
        async for chunk in request.stream():
            received += len(chunk)
            if received > max_body:
                raise UploadTooLargeError(received, max_file_bytes)
            batch.append(chunk)
            batched += len(chunk)
            if batched >= _BATCH:
                await parser.write(batch)
                batch, batched = [], 0
        await parser.write(batch)
        upload.path = await parser.finish()
        yield upload
    finally:
        receiver.remove_file()
