"""Job events as JSON on the Redis stream: `encode_event` on the workers, `decode_event` on the server."""

from __future__ import annotations

import json
from typing import Any

import attrs

from dubkit.errors import JobError
from dubkit.jobs.attempt_ledger import AttemptTime, attempt_times
from dubkit.jobs.events import JobEvent, JobEventState

__all__ = ["JobResult", "decode_event", "encode_event"]


@attrs.frozen
class JobResult:
    """What a ``completed`` event carries besides the `JobEvent` (its ``message`` is the media's key).

    Attributes:
        output_size: The media's size in bytes.
        processing_time: Seconds the job took, all its attempts together.
        storage_url: The storage the outputs are in (so the server can remove them when a cancel wins).
        attempts: Every attempt's time and outcome, oldest first (empty from workers that predate it).
    """

    output_size: int
    processing_time: float
    storage_url: str = ""
    attempts: tuple[AttemptTime, ...] = attrs.field(default=(), converter=attempt_times)


def encode_event(event: JobEvent, result: JobResult | None = None) -> str:
    """The JSON form of an event (and a completed job's result) on the stream."""
    data: dict[str, Any] = attrs.asdict(event)
    data["state"] = event.state.value
    if result is not None:
        data["result"] = attrs.asdict(result)
    return json.dumps(data, sort_keys=True)


def decode_event(text: str | bytes) -> tuple[JobEvent, JobResult | None]:
    """Read an event written by `encode_event`.

    Raises:
        JobError: The text is not such an event.
    """
    try:
        data = json.loads(text)
        raw_result = data.pop("result", None)
        data["state"] = JobEventState(data["state"])
        event = JobEvent(**data)
        result = None if raw_result is None else JobResult(**raw_result)
    except (ValueError, TypeError, KeyError) as exc:
        raise JobError(f"not a job event: {exc}") from exc
    return event, result
