from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from dubkit.errors import CancelledError, JobError, JobNotFoundError, JobStateError
from dubkit.jobs import JobStore
from dubkit.models.job import JobRecord, JobStatus

from .conftest import FakeClock, make_job

LEASE = 30.0


def test_create_and_get_round_trip(store: JobStore) -> None:
    created = store.create(make_job("j1"))
    assert created == store.get("j1") == store.get("j1", owner="alice")
    assert created.status is JobStatus.UPLOADED
    assert created.job_metadata == {"voice": "clone", "n": 3}
    assert created.created_at.tzinfo is not None
    assert created.created_at.utcoffset() == timedelta(0)


def test_create_from_fields_makes_an_id(store: JobStore) -> None:
    job = store.create({"user_id": "bob", "original_filename": "b.mp4", "target_language": "fr"})
    assert len(job.id) == 32
    assert store.get(job.id, owner="bob").target_language == "fr"


def test_create_rejects_duplicates_invalid_fields_and_naive_times(store: JobStore) -> None:
    store.create(make_job("j1"))
    with pytest.raises(JobError, match="already exists"):
        store.create(make_job("j1"))
    with pytest.raises(JobError, match="invalid job fields"):
        store.create({"user_id": "bob"})
    naive = make_job("j2").model_copy(update={"created_at": datetime(2026, 1, 1)})
    with pytest.raises(JobError, match="timezone-aware"):
        store.create(naive)


def test_times_are_stored_in_utc(store: JobStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    job = store.create(make_job("j1", created=datetime(2026, 3, 1, 14, 0, tzinfo=plus_two)))
    assert job.created_at == datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert job.created_at.utcoffset() == timedelta(0)


def test_another_owner_sees_nothing(store: JobStore) -> None:
    store.create(make_job("j1", owner="alice"))
    with pytest.raises(JobNotFoundError) as info:
        store.get("j1", owner="mallory")
    assert info.value.job_id == "j1"
    with pytest.raises(JobNotFoundError):
        store.get("nope")
    with pytest.raises(JobNotFoundError):
        store.request_cancel("j1", owner="mallory")
    with pytest.raises(JobNotFoundError):
        store.cancelled("j1", owner="mallory")
    assert store.list("mallory") == []
    assert store.get("j1").status is JobStatus.UPLOADED  # untouched by mallory's cancel


def test_list_filters_by_owner_and_status_newest_first(store: JobStore) -> None:
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for i in range(5):
        store.create(make_job(f"a{i}", owner="alice", created=base + timedelta(minutes=i)))
    store.create(make_job("b0", owner="bob", created=base))
    assert [j.id for j in store.list("alice")] == ["a4", "a3", "a2", "a1", "a0"]
    assert [j.id for j in store.list("alice", limit=2, offset=1)] == ["a3", "a2"]
    store.request_cancel("a2", owner="alice")
    assert [j.id for j in store.list("alice", JobStatus.CANCELLED)] == ["a2"]
    assert [j.id for j in store.list("bob")] == ["b0"]
    assert (store.count("alice"), store.count("alice", JobStatus.CANCELLED), store.count("bob")) == (5, 1, 1)
    assert store.count("mallory") == 0
    with pytest.raises(JobError, match="limit"):
        store.list("alice", limit=0)


def test_claim_takes_the_oldest_waiting_job(store: JobStore, clock: FakeClock) -> None:
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    store.create(make_job("newer", created=base + timedelta(seconds=2)))
    store.create(make_job("oldest", created=base))
    store.create(make_job("middle", created=base + timedelta(seconds=1)))
    claims = [store.claim("w1", LEASE) for _ in range(3)]
    assert [c.job_id for c in claims if c is not None] == ["oldest", "middle", "newer"]
    assert store.claim("w1", LEASE) is None
    first = claims[0]
    assert first is not None
    assert first.job.status is JobStatus.PROCESSING
    assert first.job.attempts == 1
    assert first.expires_at == clock.now + timedelta(seconds=LEASE)
    assert first.token not in repr(first)


def test_expired_lease_is_claimed_again_and_the_stale_worker_is_locked_out(
    store: JobStore, clock: FakeClock
) -> None:
    store.create(make_job("j1"))
    first = store.claim("w1", LEASE)
    assert first is not None
    clock.advance(LEASE - 1)
    assert store.claim("w2", LEASE) is None  # still leased
    clock.advance(2)
    second = store.claim("w2", LEASE)
    assert second is not None
    assert (second.job_id, second.job.attempts, second.worker_id) == ("j1", 2, "w2")
    assert second.token != first.token
    # the first worker comes back: every write with its token is refused
    assert store.heartbeat("j1", first.token, LEASE) is False
    with pytest.raises(JobError, match="lease no longer holds it"):
        store.update_progress("j1", first.token, "transcribe", 0.5)
    with pytest.raises(JobError, match="lease no longer holds it"):
        store.complete("j1", first.token, "alice/j1/output.mp4", 10, 1.0)
    with pytest.raises(JobError, match="lease no longer holds it"):
        store.fail("j1", first.token, "boom")
    # the current holder proceeds
    store.update_progress("j1", second.token, "synthesize", 0.75)
    assert (store.get("j1").stage, store.get("j1").progress) == ("synthesize", 0.75)
    done = store.complete("j1", second.token, "alice/j1/output.mp4", 4096, 12.5)
    assert done.status is JobStatus.COMPLETED
    assert (done.output_path, done.output_size, done.processing_time_seconds) == (
        "alice/j1/output.mp4",
        4096,
        12.5,
    )
    assert done.completed_at == clock.now
    assert done.progress == 1.0
    with pytest.raises(JobError):  # and cannot complete twice
        store.complete("j1", second.token, "x", 1, 1.0)


def test_heartbeat_extends_the_lease(store: JobStore, clock: FakeClock) -> None:
    store.create(make_job("j1"))
    claim = store.claim("w1", LEASE)
    assert claim is not None
    for _ in range(5):
        clock.advance(LEASE - 5)
        assert store.heartbeat("j1", claim.token, LEASE) is True
    assert store.claim("w2", LEASE) is None  # long past the first expiry, still held
    with pytest.raises(JobError, match="positive"):
        store.heartbeat("j1", claim.token, 0)


def test_attempts_run_out_into_the_dead_letter_state(store: JobStore, clock: FakeClock) -> None:
    store.create(make_job("j1"))
    for attempt in range(1, 4):
        claim = store.claim(f"w{attempt}", LEASE)
        assert claim is not None
        assert claim.job.attempts == attempt
        clock.advance(LEASE + 1)  # the worker dies
    assert store.claim("w4", LEASE) is None
    job = store.get("j1")
    assert job.status is JobStatus.FAILED
    assert job.error_message == "dead-lettered after 3 attempts"
    assert job.attempts == 3


def test_fail_for_good_or_retry(store: JobStore) -> None:
    store.create(make_job("j1"))
    store.create(make_job("j2"))
    first = store.claim("w1", LEASE)
    assert first is not None
    failed = store.fail(first.job_id, first.token, "corrupt media")
    assert (failed.status, failed.error_message) == (JobStatus.FAILED, "corrupt media")
    # j2: a retryable failure goes back to the queue until attempts run out
    for attempt in range(1, 4):
        claim = store.claim("w1", LEASE)
        assert claim is not None
        assert (claim.job_id, claim.job.attempts) == ("j2", attempt)
        after = store.fail("j2", claim.token, "backend timeout", retry=True)
        expected = JobStatus.UPLOADED if attempt < 3 else JobStatus.FAILED
        assert after.status is expected
    assert store.get("j2").error_message == "dead-lettered after 3 attempts; last error: backend timeout"
    assert store.claim("w1", LEASE) is None


def test_cancel_a_waiting_job_at_once(store: JobStore) -> None:
    store.create(make_job("j1"))
    assert store.cancelled("j1") is False
    job = store.request_cancel("j1", owner="alice")
    assert job.status is JobStatus.CANCELLED
    assert store.cancelled("j1", owner="alice") is True
    assert store.claim("w1", LEASE) is None
    assert store.request_cancel("j1", owner="alice").status is JobStatus.CANCELLED  # idempotent


def test_cancel_a_running_job_through_its_runner(store: JobStore) -> None:
    store.create(make_job("j1"))
    claim = store.claim("w1", LEASE)
    assert claim is not None
    job = store.request_cancel("j1", owner="alice")
    assert job.status is JobStatus.PROCESSING  # the runner has not noticed yet
    assert store.cancelled("j1") is True  # what the runner polls
    assert store.acknowledge_cancel("j1", claim.token).status is JobStatus.CANCELLED
    assert store.heartbeat("j1", claim.token, LEASE) is False


def test_a_cancel_requested_before_completion_commits_wins(store: JobStore) -> None:
    store.create(make_job("a"))
    claim = store.claim("w1", 60)
    assert claim is not None
    store.request_cancel("a", "alice")  # after the runner's last check, before it completes
    with pytest.raises(CancelledError):
        store.complete("a", claim.token, output_path="a/out.mp4", output_size=10, processing_time=1.0)
    held = store.get("a")
    assert held.status is JobStatus.PROCESSING and held.output_path is None and held.completed_at is None
    assert store.acknowledge_cancel("a", claim.token).status is JobStatus.CANCELLED
    with pytest.raises(JobError):  # a stale token is still refused as such, cancelled or not
        store.complete("a", "not-the-token", output_path="x", output_size=1, processing_time=1.0)


def test_cancel_of_a_job_whose_runner_died(store: JobStore, clock: FakeClock) -> None:
    store.create(make_job("j1"))
    assert store.claim("w1", LEASE) is not None
    store.request_cancel("j1", owner="alice")
    clock.advance(LEASE + 1)
    assert store.claim("w2", LEASE) is None  # not re-run: cancelled instead
    assert store.get("j1").status is JobStatus.CANCELLED


def test_finished_jobs_cannot_be_cancelled(store: JobStore) -> None:
    store.create(make_job("j1"))
    claim = store.claim("w1", LEASE)
    assert claim is not None
    store.complete("j1", claim.token, "out", 1, 1.0)
    with pytest.raises(JobError, match="already completed"):
        store.request_cancel("j1", owner="alice")


def test_progress_is_validated(store: JobStore) -> None:
    store.create(make_job("j1"))
    claim = store.claim("w1", LEASE)
    assert claim is not None
    with pytest.raises(JobError, match=r"0\.\.1"):
        store.update_progress("j1", claim.token, "mux", 1.5)


def test_the_store_survives_reopening(db_path: Path, clock: FakeClock) -> None:
    with JobStore(db_path, clock=clock) as store:
        store.create(make_job("j1"))
        claim = store.claim("w1", LEASE)
        assert claim is not None
    with JobStore(db_path, clock=clock) as store:
        assert store.heartbeat("j1", claim.token, LEASE) is True
        assert store.get("j1").status is JobStatus.PROCESSING


def test_constructor_checks_its_options(db_path: Path) -> None:
    with pytest.raises(JobError, match="max_attempts"):
        JobStore(db_path, max_attempts=0)
    with pytest.raises(JobError, match="busy_timeout_s"):
        JobStore(db_path, busy_timeout_s=0)
    assert not db_path.exists()  # the constructor is cheap: nothing opened


def test_records_keep_every_field(store: JobStore) -> None:
    record = make_job("j1").model_copy(update={"source_language": "en", "error_message": None})
    assert store.create(record).model_dump(exclude={"created_at", "updated_at"}) == JobRecord.model_validate(
        record.model_dump()
    ).model_dump(exclude={"created_at", "updated_at"})


def test_take_attempt_accepts_only_a_newer_delivery(store: JobStore) -> None:
    store.create(make_job("j1"))
    assert store.take_attempt("j1", 1, "tok-1", "worker a", lease_seconds=30)
    assert not store.take_attempt("j1", 1, "tok-1b", "worker b", lease_seconds=30)  # the same attempt again
    job = store.get("j1")
    assert job.status is JobStatus.PROCESSING
    assert job.attempts == 1
    assert store.take_attempt("j1", 2, "tok-2", "worker c", lease_seconds=30)
    assert not store.heartbeat("j1", "tok-1", 30)  # the first delivery lost the job
    assert store.heartbeat("j1", "tok-2", 30)


def test_a_completion_keeps_the_attempts_it_lists_beside_the_other_metadata(store: JobStore) -> None:
    store.create(make_job("a"))
    claim = store.claim("w1", 60)
    assert claim is not None
    history = [
        {"attempt": 1, "seconds": 12.5, "outcome": "interrupted"},
        {"attempt": 2, "seconds": 30.25, "outcome": "completed"},
    ]
    done = store.complete(
        "a", claim.token, output_path="o.mp4", output_size=10, processing_time=42.75, attempt_history=history
    )
    assert done.processing_time_seconds == 42.75
    assert done.job_metadata == {"voice": "clone", "n": 3, "attempt_history": history}


def completed(store: JobStore, job_id: str) -> JobRecord:
    store.create(make_job(job_id))
    claim = store.claim("w1", LEASE)
    assert claim is not None
    return store.complete(job_id, claim.token, f"alice/{job_id}/output/a.mp4", 10, 1.0)


REDUB = {"version": 2, "project": "alice/j1/redub-project.json"}


def test_a_completed_job_is_queued_again_for_a_redub_and_keeps_its_result(store: JobStore) -> None:
    completed(store, "j1")
    with pytest.raises(JobNotFoundError):
        store.request_redub("j1", "mallory", REDUB)
    queued = store.request_redub("j1", "alice", REDUB)
    assert (queued.status, queued.attempts, queued.progress) == (JobStatus.UPLOADED, 0, 0.0)
    assert queued.output_path == "alice/j1/output/a.mp4" and queued.job_metadata["redub"] == REDUB
    assert queued.job_metadata["voice"] == "clone"  # the rest of the metadata stays
    with pytest.raises(JobStateError):  # queued already
        store.request_redub("j1", "alice", REDUB)
    claim = store.claim("w2", LEASE)
    assert claim is not None and claim.job.attempts == 1
    done = store.complete("j1", claim.token, "alice/j1/output-v2/a.mp4", 12, 0.5)
    assert (done.status, done.output_path, done.error_message) == (
        JobStatus.COMPLETED,
        "alice/j1/output-v2/a.mp4",
        None,
    )


def test_a_failed_or_cancelled_redub_leaves_the_last_result(store: JobStore, clock: FakeClock) -> None:
    completed(store, "j1")
    store.request_redub("j1", "alice", REDUB)  # cancelled while it waits
    waiting = store.request_cancel("j1", "alice")
    assert (waiting.status, waiting.cancel_requested) == (JobStatus.COMPLETED, False)
    assert waiting.output_path == "alice/j1/output/a.mp4" and "cancelled" in (waiting.error_message or "")

    store.request_redub("j1", "alice", REDUB)  # cancelled while it runs
    claim = store.claim("w1", LEASE)
    assert claim is not None
    store.request_cancel("j1", "alice")
    assert store.acknowledge_cancel("j1", claim.token).status is JobStatus.COMPLETED

    store.request_redub("j1", "alice", REDUB)  # fails for good
    claim = store.claim("w1", LEASE)
    assert claim is not None
    failed = store.fail("j1", claim.token, "voice model crashed")
    assert failed.status is JobStatus.COMPLETED and failed.progress == 1.0
    assert failed.error_message == "the re-dub failed: voice model crashed; this is the last result"

    store.request_redub("j1", "alice", REDUB)  # its workers keep dying: dead-lettered
    for _ in range(3):
        assert store.claim("w1", LEASE) is not None
        clock.advance(LEASE + 1)
    assert store.claim("w2", LEASE) is None
    dead = store.get("j1")
    assert dead.status is JobStatus.COMPLETED and dead.output_path == "alice/j1/output/a.mp4"
    assert "dead-lettered after 3 attempts" in (dead.error_message or "")


def test_only_a_completed_job_is_redubbed(store: JobStore) -> None:
    store.create(make_job("j1"))
    with pytest.raises(JobStateError, match="uploaded"):
        store.request_redub("j1", "alice", REDUB)
    store.request_cancel("j1", "alice")
    with pytest.raises(JobStateError, match="cancelled"):
        store.request_redub("j1", "alice", REDUB)
    assert store.get("j1").status is JobStatus.CANCELLED  # a first dub that never completed stays cancelled
