from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from local_services import s3_storage

from dubkit.storage import FsspecStorage


@pytest.fixture(params=["local", "memory", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> FsspecStorage:
    unique = uuid.uuid4().hex
    if request.param == "local":
        return FsspecStorage((tmp_path / "root").as_uri())
    if request.param == "memory":
        return FsspecStorage(f"memory://dubkit-{unique}")
    return s3_storage(request.getfixturevalue("s3_endpoint"), unique)
