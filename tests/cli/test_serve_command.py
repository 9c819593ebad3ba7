"""`dubkit serve`: API keys made with --hash-key, the refusal to expose a keyless server, and a real start."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from local_services import free_port
from typer.testing import CliRunner

from dubkit.cli import app
from dubkit.cli.serve_command import is_loopback
from dubkit.server import ApiKeys


def test_hash_key_prints_a_key_and_the_entry_that_accepts_it() -> None:
    result = CliRunner().invoke(app, ["serve", "--hash-key", "alice"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    key = next(line for line in lines if line.startswith("API key for alice")).rsplit(" ", 1)[1]
    entry = next(line for line in lines if line.startswith("DUBKIT_API_KEYS entry")).rsplit(" ", 1)[1]
    assert entry.startswith("alice:") and key not in entry
    keys = ApiKeys([entry])
    assert keys.owner_of(key) == "alice" and keys.owner_of(key + "x") is None


def test_a_bad_owner_name_is_refused() -> None:
    result = CliRunner().invoke(app, ["serve", "--hash-key", "../root"])
    assert result.exit_code == 2 and "invalid owner name" in result.output


def test_a_keyless_server_refuses_a_public_address(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DUBKIT_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("DUBKIT_API_KEYS", raising=False)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert result.exit_code == 2
    assert "refusing to listen on 0.0.0.0" in result.output and "DUBKIT_API_KEYS" in result.output
    assert not (tmp_path / "jobs.db").exists()


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("10.1.2.3", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_serve_starts_uvicorn_and_answers(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DUBKIT_DATA_DIR": str(tmp_path / "data")}
    env.pop("DUBKIT_API_KEYS", None)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from dubkit.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "dubkit serve did not answer"
                time.sleep(0.2)
        assert health.json()["status"] == "ok"
        jobs = httpx.get(f"http://127.0.0.1:{port}/api/v1/jobs", timeout=5)
        assert jobs.status_code == 200 and jobs.json()["total"] == 0  # the single local user, no key
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0].decode()
    assert f"http://127.0.0.1:{port}/" in output and "single local user" in output
    assert (tmp_path / "data" / "jobs.db").exists()
