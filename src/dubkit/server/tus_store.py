"""The server's resumable (tus) uploads: who owns each, how far it got, when it expires, the jobs it made.

Each upload is two files under ``<data_dir>/uploads/tus/``, named by a random id (never by client input):
``<id>.json`` (owner, announced length, metadata, expiry, job ids once finished; replaced atomically) and
``<id>.part`` (the bytes received so far, appended in order: its size is the upload's offset). Both
survive a restart, so a client can resume across one. The index in memory is read and changed on the event
loop only; file work runs in worker threads.

An upload is *busy* while a request works on it (a PATCH receiving or finishing it, a DELETE): a second
request on the same upload is refused with 423 rather than waiting, so two PATCHes can never interleave
their bytes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import anyio.to_thread
import attrs

from dubkit.server.problems import ProblemError

__all__ = ["TusUpload", "TusUploads"]

logger = logging.getLogger(__name__)

_ID_BYTES = 16


@attrs.define
class TusUpload:
    """One resumable upload.

    Attributes:
        id: Random hex, the last part of its URL.
        owner: Who created it; nobody else can see it.
        length: The announced length in bytes (``Upload-Length``).
        metadata: The decoded ``Upload-Metadata`` (file name, languages, backends).
        expires_at: Seconds since the epoch after which it is gone (finished or not).
        offset: Bytes received so far.
        job_ids: The jobs it made, once finished (``None`` before).
    """

    id: str
    owner: str
    length: int
    metadata: dict[str, str]
    expires_at: float
    offset: int = 0
    job_ids: list[str] | None = None

    @property
    def finished(self) -> bool:
        """Whether its jobs were created (its bytes have gone to storage)."""
        return self.job_ids is not None

    def to_json(self) -> dict[str, Any]:
        """What ``<id>.json`` holds (the offset is the data file's size)."""
        return {
            "id": self.id,
            "owner": self.owner,
            "length": self.length,
            "metadata": self.metadata,
            "expires_at": self.expires_at,
            "job_ids": self.job_ids,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], offset: int) -> TusUpload:
        """Read back `to_json`."""
        return cls(
            id=str(data["id"]),
            owner=str(data["owner"]),
            length=int(data["length"]),
            metadata={str(k): str(v) for k, v in dict(data["metadata"]).items()},
            expires_at=float(data["expires_at"]),
            offset=offset,
            job_ids=None if data.get("job_ids") is None else [str(j) for j in data["job_ids"]],
        )


def _not_found(upload_id: str) -> ProblemError:
    return ProblemError(404, f"no upload {upload_id!r}", code="upload_not_found")


class TusUploads:
    """Every resumable upload of the server.

    Args:
        folder: Where their files live (created with the first upload).
        expiry_seconds: How long an upload lives after its creation.
        max_pending: Unfinished uploads one owner may hold.
        max_pending_bytes: The total announced length of one owner's unfinished uploads.
    """

    def __init__(
        self, folder: Path, *, expiry_seconds: float, max_pending: int, max_pending_bytes: int
    ) -> None:
        self.folder = folder
        self.expiry_seconds = expiry_seconds
        self.max_pending = max_pending
        self.max_pending_bytes = max_pending_bytes
        self.clock: Callable[[], float] = time.time
        """Seconds since the epoch (tests move it forward to expire uploads)."""
        self._uploads: dict[str, TusUpload] = {}
        self._busy: set[str] = set()

    def data_path(self, upload: TusUpload) -> Path:
        """The file of its bytes."""
        return self.folder / f"{upload.id}.part"

    def _info_path(self, upload_id: str) -> Path:
        return self.folder / f"{upload_id}.json"

    # ------------------------------------------------------------------ start-up (before serving)

    def load(self) -> None:
        """Read the uploads a previous run left; remove orphaned or unreadable files."""
        self._uploads.clear()
        if not self.folder.is_dir():
            return
        for info in self.folder.glob("*.json"):
            try:
                data = json.loads(info.read_text("utf-8"))
                part = info.with_suffix(".part")
                offset = part.stat().st_size if part.is_file() else 0
                upload = TusUpload.from_json(data, offset)
                if upload.id != info.stem or (not upload.finished and not part.is_file()):
                    raise ValueError("inconsistent upload files")
                if upload.finished:  # its bytes went to storage; a crash may have left them here
                    upload.offset = upload.length
                    part.unlink(missing_ok=True)
                self._uploads[upload.id] = upload
            except (OSError, ValueError, KeyError, TypeError):
                logger.warning("removing unreadable upload %s", info.name)
                self._remove_files(info.stem)
        for stray in self.folder.iterdir():
            if stray.stem not in self._uploads:
                with suppress(OSError):
                    stray.unlink()

    # ------------------------------------------------------------------ on the event loop

    def get(self, upload_id: str, owner: str) -> TusUpload:
        """The upload ``upload_id`` of ``owner``.

        Raises:
            ProblemError: 404, no such upload for this owner (another owner's, or expired).
        """
        upload = self._uploads.get(upload_id)
        if upload is None or upload.owner != owner or self.clock() >= upload.expires_at:
            raise _not_found(upload_id)
        return upload

    def reserve(self, owner: str, length: int, metadata: dict[str, str]) -> TusUpload:
        """A new upload in the index (`persist` writes its files).

        Raises:
            ProblemError: 429, the owner's unfinished uploads are at their count or byte cap.
        """
        now = self.clock()
        pending = [u for u in self._uploads.values() if u.owner == owner and not u.finished]
        announced = sum(u.length for u in pending)
        if len(pending) + 1 > self.max_pending or announced + length > self.max_pending_bytes:
            wait = min((u.expires_at for u in pending), default=now + 1) - now
            raise ProblemError(
                429,
                f"you have {len(pending)} unfinished uploads ({announced} bytes announced);"
                " finish or delete one first",
                code="too_many_pending_uploads",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        upload_id = secrets.token_hex(_ID_BYTES)
        upload = TusUpload(upload_id, owner, length, dict(metadata), now + self.expiry_seconds)
        self._uploads[upload_id] = upload
        return upload

    @contextmanager
    def busy(self, upload: TusUpload) -> Iterator[None]:
        """Hold ``upload`` for one request.

        Raises:
            ProblemError: 423, another request holds it.
        """
        if upload.id in self._busy:
            raise ProblemError(
                423,
                "another request is writing this upload; ask for its offset and retry",
                code="upload_busy",
            )
        self._busy.add(upload.id)
        try:
            yield
        finally:
            self._busy.discard(upload.id)

    def expired(self) -> list[TusUpload]:
        """Uploads past their expiry that no request holds, taken out of the index (remove their files)."""
        now = self.clock()
        gone = [u for u in self._uploads.values() if now >= u.expires_at and u.id not in self._busy]
        for upload in gone:
            del self._uploads[upload.id]
        return gone

    async def sweep(self) -> int:
        """Remove every expired upload; how many there were."""
        gone = self.expired()
        for upload in gone:
            await anyio.to_thread.run_sync(self._remove_files, upload.id)
        if gone:
            logger.info("swept %d expired upload(s)", len(gone))
        return len(gone)

    async def persist(self, upload: TusUpload, *, create_data: bool = False) -> None:
        """Write ``upload``'s record (and, when asked, its empty data file)."""
        await anyio.to_thread.run_sync(self._write_info, upload, create_data)

    async def finish(self, upload: TusUpload, job_ids: list[str]) -> None:
        """Record the jobs ``upload`` made and drop its bytes (they are in storage now)."""
        upload.job_ids = list(job_ids)
        upload.offset = upload.length
        await self.persist(upload)
        await anyio.to_thread.run_sync(lambda: self.data_path(upload).unlink(missing_ok=True))

    async def discard(self, upload: TusUpload) -> None:
        """Forget ``upload`` and remove its files."""
        self._uploads.pop(upload.id, None)
        await anyio.to_thread.run_sync(self._remove_files, upload.id)

    # ------------------------------------------------------------------ worker threads

    def _write_info(self, upload: TusUpload, create_data: bool) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        if create_data:
            self.data_path(upload).open("xb").close()
        final = self._info_path(upload.id)
        temporary = final.with_suffix(".tmp")
        with temporary.open("w", encoding="utf-8") as out:
            json.dump(upload.to_json(), out)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(final)

    def _remove_files(self, upload_id: str) -> None:
        for suffix in (".part", ".json", ".tmp"):
            with suppress(OSError):
                (self.folder / f"{upload_id}{suffix}").unlink(missing_ok=True)
