"""`create_app` builds the application only; the lifespan opens and closes everything."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dubkit.errors import ConfigError
from dubkit.server import ServerSettings, create_app


def test_creating_the_app_touches_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    create_app(ServerSettings(data_dir=data))
    assert not data.exists()


def test_the_lifespan_opens_the_store_and_stops_the_runner(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "uploads").mkdir(parents=True)
    stale = data / "uploads" / ".upload-0123.part"
    stale.write_bytes(b"left by a crash")
    app = create_app(ServerSettings(data_dir=data))
    with TestClient(app) as client:
        assert client.get("/api/v1/health").json()["status"] == "ok"
        runner = app.state.services.runner
        assert runner is not None and runner.running
        assert (data / "jobs.db").exists() and not stale.exists()
    assert not runner.running


def test_malformed_api_keys_stop_the_app_from_being_built(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        create_app(ServerSettings(data_dir=tmp_path, api_keys=["alice:not-a-hash"]))
