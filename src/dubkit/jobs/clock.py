"""UTC times for the job store, stored as fixed-width ISO 8601 text that sorts in time order."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

from dubkit.errors import JobError

__all__ = ["Clock", "format_time", "parse_time", "plus_seconds", "utc_now"]

Clock = Callable[[], datetime]
"""A function returning the current time, timezone-aware; tests pass a fake one."""


def utc_now() -> datetime:
    """The current time in UTC."""
    return datetime.now(timezone.utc)


def format_time(moment: datetime) -> str:
    """``moment`` in UTC as ``YYYY-MM-DDTHH:MM:SS.ffffff+00:00``: one width, so text order is time order.

    Raises:
        JobError: ``moment`` is naive (has no timezone), so its UTC time is unknown.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise JobError(f"job times must be timezone-aware, got the naive {moment.isoformat()}")
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_time(text: str) -> datetime:
    """Inverse of `format_time`."""
    return datetime.fromisoformat(text)


def plus_seconds(moment: datetime, seconds: float) -> datetime:
    """``moment`` moved ``seconds`` later."""
    return moment + timedelta(seconds=seconds)
