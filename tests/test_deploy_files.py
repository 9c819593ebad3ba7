"""compose.yaml and the Dockerfile stay consistent with the code (the image itself: ./dev.sh image)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer.main
import yaml

from dubkit.cli import app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def _parses(argv: list[str]) -> None:
    """The real CLI accepts ``argv`` (options and their values), without running the command."""
    group = typer.main.get_command(app)
    assert argv[0] == "dubkit"
    command = group.get_command(group.context_class(group), argv[1])  # type: ignore[attr-defined]
    assert command is not None, f"no command {argv[1]!r}"
    command.make_context(argv[1], list(argv[2:]))


def test_compose_has_redis_a_server_and_workers(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == {"redis", "server", "worker"}
    for name in ("server", "worker"):
        _parses(services[name]["command"])
        assert "--broker" in services[name]["command"]
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert all(port.startswith("127.0.0.1:") for port in services["server"]["ports"])


def test_compose_volumes_are_declared_and_shared(compose: dict) -> None:
    declared = set(compose["volumes"])
    used = {
        volume.split(":")[0]
        for service in compose["services"].values()
        for volume in service.get("volumes", [])
    }
    assert used <= declared
    files = {s: v for s, svc in compose["services"].items() for v in svc.get("volumes", []) if "files" in v}
    assert files["server"] == files["worker"], "server and workers must see one storage"


def test_dockerfile_installs_from_the_lock_and_copies_only_what_dockerignore_lets_in() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "--require-hashes -r deploy.lock" in dockerfile
    assert re.search(r"^ARG BASE=", dockerfile, re.M)
    allowed = [
        line[1:].rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    ]
    for sources in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M):
        for source in sources.split():
            assert any(source.rstrip("*/").startswith(a) for a in allowed), source
            if not source.endswith("*"):
                assert (ROOT / source).exists(), source


def test_the_deploy_lock_covers_the_extras_the_image_needs() -> None:
    lock = (ROOT / "requirements" / "extras" / "deploy.lock").read_text()
    for dist in ("fastapi", "dramatiq", "s3fs", "faster-whisper", "onnxruntime", "uvicorn"):
        assert re.search(rf"^{dist}==", lock, re.M), dist
    assert not re.search(r"^torch==", lock, re.M), "torch is installed on its own (a CPU build)"
