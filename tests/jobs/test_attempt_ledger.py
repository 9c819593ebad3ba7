"""A job's attempts in Redis: numbered across workers, timed to their last sign of life, then listed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from local_services import redis_server

redis = pytest.importorskip("redis")

from dubkit.jobs.attempt_ledger import AttemptLedger, AttemptTime, attempt_times
from dubkit.jobs.redis_keys import JOB_KEY_TTL_S, attempts_key


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(tmp_path: Path) -> Iterator[redis.Redis]:
    with redis_server(tmp_path) as url:
        connection = redis.Redis.from_url(url)
        yield connection
        connection.close()


def test_attempts_on_several_workers_are_numbered_timed_and_listed(client: redis.Redis) -> None:
    clock = Clock()
    first = AttemptLedger(client, "j1", clock=clock)  # a worker that will die mid-attempt
    assert first.begin(0) == 1
    clock.now += 4.0
    first.touch(1)
    clock.now += 0.7  # killed here: no more signs of life
    second = AttemptLedger(client, "j1", clock=clock)  # another worker, after the redelivery
    clock.now += 20.0
    assert second.begin(0) == 2
    clock.now += 3.0
    second.end(2, "retried")  # failed, back to the queue
    third = AttemptLedger(client, "j1", clock=clock)
    clock.now += 15.0
    assert third.begin(0) == 3
    clock.now += 9.5
    assert third.history(3, "completed") == (
        AttemptTime(1, 4.0, "interrupted"),
        AttemptTime(2, 3.0, "retried"),
        AttemptTime(3, 9.5, "completed"),
    )
    assert 0 < client.ttl(attempts_key("j1")) <= JOB_KEY_TTL_S


def test_numbers_continue_from_the_store_count_the_message_carried(client: redis.Redis) -> None:
    ledger = AttemptLedger(client, "j2")
    assert ledger.begin(2) == 3  # the server had counted two attempts when it sent the message
    assert [t.attempt for t in ledger.history(3, "completed")] == [3]


def test_attempt_times_read_their_json_form() -> None:
    raw = [{"attempt": 1, "seconds": 2.5, "outcome": "completed"}]
    assert attempt_times(raw) == (AttemptTime(1, 2.5, "completed"),)
    assert attempt_times(None) == ()
