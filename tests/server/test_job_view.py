"""The API's view of a stored job lists the attempts its runner recorded."""

from __future__ import annotations

from dubkit.models.job import JobRecord
from dubkit.server.schemas import job_out


def _record(metadata: dict[str, object]) -> JobRecord:
    return JobRecord(
        id="j1", user_id="alice", original_filename="talk.mp4", target_language="es", job_metadata=metadata
    )


def test_the_attempts_of_a_job_are_listed_with_their_times() -> None:
    history = [
        {"attempt": 1, "seconds": 12.5, "outcome": "interrupted"},
        {"attempt": 2, "seconds": 30.25, "outcome": "completed"},
    ]
    view = job_out(_record({"attempt_history": history, "backends": {"translator": "shout"}}))
    assert [a.model_dump() for a in view.attempts] == history
    assert view.backends == {"translator": "shout"}


def test_a_job_without_a_recorded_history_lists_none() -> None:
    assert job_out(_record({})).attempts == []
    assert job_out(_record({"attempt_history": "garbage"})).attempts == []
    assert job_out(_record({"attempt_history": [{"attempt": "x"}, 3]})).attempts == []
