from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # the helper modules beside the tests

from dubkit.jobs import JobStore
from dubkit.models.job import JobRecord
from dubkit.storage import FsspecStorage


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "jobs.sqlite"


@pytest.fixture
def store(db_path: Path, clock: FakeClock) -> Iterator[JobStore]:
    with JobStore(db_path, max_attempts=3, clock=clock) as opened:
        yield opened


def make_job(job_id: str, owner: str = "alice", *, created: datetime | None = None) -> JobRecord:
    fields: dict[str, object] = {
        "id": job_id,
        "user_id": owner,
        "original_filename": f"{job_id}.mp4",
        "target_language": "de",
        "input_path": f"{owner}/{job_id}/input",
        "input_size": 1234,
        "job_metadata": {"voice": "clone", "n": 3},
    }
    if created is not None:
        fields["created_at"] = created
        fields["updated_at"] = created
    return JobRecord.model_validate(fields)


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> FsspecStorage:
    """Job storage on local disk, then on the S3 endpoint: the runner tests run on both."""
    if request.param == "local":
        return FsspecStorage(str(tmp_path / "storage"))
    from local_services import s3_storage

    return s3_storage(request.getfixturevalue("s3_endpoint"))
