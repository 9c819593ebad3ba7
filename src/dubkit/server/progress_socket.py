"""``WS /api/v1/jobs/{job_id}/progress``: a job's live progress, then its final state.

Runner events arrive on worker threads; each socket gets them through ``loop.call_soon_threadsafe`` into its
own bounded `asyncio.Queue`. A socket that falls behind (queue full) drops events and re-reads the job from
the store; so does an idle one every few seconds, so a missed event never leaves a client waiting. The
subscription ends with the socket (the client leaving is noticed by a reader task).

Authentication: the ``X-API-Key`` header, or ``?api_key=`` (browsers cannot set headers on a WebSocket).
The socket is accepted first, then closed with code 4429 (over the caller's API rate limit; a socket counts
once, when it connects), 4401 (bad key) or 4404 (no such job for this owner);
a finished exchange closes with 1000.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from dubkit.errors import JobNotFoundError
from dubkit.jobs.events import JobEvent, JobEventState
from dubkit.models.job import JobRecord, JobStatus
from dubkit.server.rates import caller_of
from dubkit.server.services import ServerServices

__all__ = ["CLOSE_NOT_FOUND", "CLOSE_RATE_LIMITED", "CLOSE_UNAUTHORIZED", "router"]

logger = logging.getLogger(__name__)

router = APIRouter()

CLOSE_UNAUTHORIZED = 4401
CLOSE_NOT_FOUND = 4404
CLOSE_RATE_LIMITED = 4429
_QUEUE = 512
_RESYNC_S = 2.0

_STATUS_OF_EVENT = {
    JobEventState.COMPLETED: JobStatus.COMPLETED,
    JobEventState.FAILED: JobStatus.FAILED,
    JobEventState.CANCELLED: JobStatus.CANCELLED,
    JobEventState.RETRYING: JobStatus.UPLOADED,
}
_ENDING = frozenset({JobEventState.COMPLETED, JobEventState.FAILED, JobEventState.CANCELLED})


def progress_message(event: JobEvent) -> dict[str, Any]:
    """The ``progress`` message of one runner event."""
    return {
        "type": "progress",
        "job_id": event.job_id,
        "status": _STATUS_OF_EVENT.get(event.state, JobStatus.PROCESSING).value,
        "state": event.state.value,
        "stage": event.stage,
        "fraction": event.stage_fraction,
        "progress": event.fraction,
        "message": event.message,
        "attempt": event.attempt,
    }


def snapshot_message(record: JobRecord) -> dict[str, Any]:
    """The ``progress`` message of the job as stored (sent first)."""
    return {
        "type": "progress",
        "job_id": record.id,
        "status": record.status.value,
        "state": "snapshot",
        "stage": record.stage,
        "fraction": record.progress,
        "progress": record.progress,
        "message": "",
        "attempt": record.attempts,
    }


def final_message(record: JobRecord) -> dict[str, Any]:
    """The ``final`` message of a finished job."""
    return {
        "type": "final",
        "job_id": record.id,
        "status": record.status.value,
        "error_message": record.error_message,
        "progress": record.progress,
    }


async def _wait_for_disconnect(websocket: WebSocket) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass


class _Feed:
    """One socket's queue of a job's events, filled from any thread."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self.loop = asyncio.get_running_loop()
        self.queue: asyncio.Queue[JobEvent] = asyncio.Queue(maxsize=_QUEUE)
        self.overflowed = False

    def __call__(self, event: JobEvent) -> None:
        if event.job_id == self.job_id and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._put, event)

    def _put(self, event: JobEvent) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True


@router.websocket("/jobs/{job_id}/progress")
async def job_progress(websocket: WebSocket, job_id: str) -> None:
    """Live progress of a job: the stored state, then ``progress`` events, then one ``final`` message."""
    services: ServerServices = websocket.app.state.services
    key = websocket.headers.get("x-api-key") or websocket.query_params.get("api_key")
    owner = services.api_keys.owner_of(key)
    client = websocket.client
    wait = services.rate_limits.spend("api", caller_of(owner, client.host if client else None))
    await websocket.accept()
    if wait is not None:
        await websocket.close(CLOSE_RATE_LIMITED, f"too many requests; try again in {wait} s")
        return
    if owner is None:
        await websocket.close(CLOSE_UNAUTHORIZED, "a valid API key is required")
        return
    feed = _Feed(job_id)
    unsubscribe = services.events.subscribe(feed)
    reader = asyncio.create_task(_wait_for_disconnect(websocket))
    try:
        await _stream(websocket, services, feed, reader, owner=owner)
    except WebSocketDisconnect:
        logger.debug("progress socket of job %s: client left", job_id)
    finally:
        unsubscribe()
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def _stream(
    websocket: WebSocket, services: ServerServices, feed: _Feed, reader: asyncio.Task[None], *, owner: str
) -> None:
    job_id = feed.job_id

    async def current() -> JobRecord:
        return await services.store.call(lambda store: store.get(job_id, owner))

    async def finish(record: JobRecord) -> None:
        await websocket.send_json(final_message(record))
        await websocket.close(1000)

    try:
        record = await current()
    except JobNotFoundError:
        await websocket.close(CLOSE_NOT_FOUND, "job not found")
        return
    await websocket.send_json(snapshot_message(record))
    if record.status.finished:
        await finish(record)
        return
    while True:
        getter = asyncio.ensure_future(feed.queue.get())
        done, _ = await asyncio.wait({getter, reader}, timeout=_RESYNC_S, return_when=asyncio.FIRST_COMPLETED)
        if reader in done:
            getter.cancel()
            return
        event = getter.result() if getter in done else None
        if event is None:
            getter.cancel()
        if event is None or feed.overflowed:
            feed.overflowed = False
            record = await current()
            if record.status.finished:
                await finish(record)
                return
            if event is None:
                continue
        await websocket.send_json(progress_message(event))
        if event.state in _ENDING:
            record = await current()
            if record.status.finished:
                await finish(record)
                return
