"""A real uvicorn on a free loopback port, serving `dubkit.server.create_app` over a temporary data folder
with fast stand-in backends (``fast_backends.py``).

Fixtures (shared with the browser test, tests/server/test_browser.py):

* ``live_server`` (module scope): a `LiveServer` with no API keys (the single local user), so a client needs
  no credentials. ``live_server.url`` is the base URL (``http://127.0.0.1:PORT``).
* ``keyed_server`` (module scope): a `LiveServer` with two tenants; their keys are in ``keyed_server.keys``
  (``{"alice": ..., "bob": ...}``); send one as the ``X-API-Key`` header.
* ``sample_video`` (session scope): a generated talk (`dubkit.testing.make_sample_video`), ~6 s with speech.
* ``start_server``: a function that starts another `LiveServer` with given settings (stopped after the test).
* ``browser`` (module scope): Debian's Chromium, headless, through Playwright (``browser_support.py``).

The servers have no per-owner job limit and no rate limits unless started with them (``UNLIMITED``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import uvicorn
from local_services import free_port

from dubkit import PipelineConfig
from dubkit.jobs import WarmPipelines
from dubkit.server import ServerSettings, create_app, hash_api_key
from dubkit.testing import SampleVideo, make_sample_video

from .fast_backends import TranscribeGate, job_pipelines, make_registry

TIMEOUT = 60.0
UNLIMITED: dict[str, Any] = {"max_active_jobs_per_owner": 0, "upload_rate_limit": "", "api_rate_limit": ""}
"""The test servers have no concurrency or rate limit unless a test asks for one."""


@attrs.define
class LiveServer:
    """A running server: its base URL, settings, API keys by owner, and the gates of the stand-in
    transcriber and voice."""

    url: str
    settings: ServerSettings
    keys: dict[str, str]
    gate: TranscribeGate
    voice_gate: TranscribeGate
    app: Any
    _server: uvicorn.Server
    _thread: threading.Thread

    def headers(self, owner: str | None = None) -> dict[str, str]:
        """The headers that authenticate as ``owner`` (none for a server without keys)."""
        return {} if owner is None else {"X-API-Key": self.keys[owner]}

    _clients: list[httpx.Client] = attrs.field(factory=list)

    def client(self, owner: str | None = None) -> httpx.Client:
        """An HTTP client for this server (as ``owner``); closed when the server stops."""
        client = httpx.Client(base_url=self.url, headers=self.headers(owner), timeout=TIMEOUT)
        self._clients.append(client)
        return client

    def stop(self) -> None:
        for client in self._clients:
            client.close()
        self._server.should_exit = True
        self._thread.join(30)


def start_live_server(
    data_dir: Path,
    keys: dict[str, str] | None = None,
    *,
    config: PipelineConfig | None = None,
    **overrides: Any,
) -> LiveServer:
    """Start uvicorn in a thread on a free port; returns once it accepts connections.

    ``config``: the jobs' pipeline settings (default: the fast stand-ins of ``fast_backends.CONFIG``).
    """
    keys = keys or {}
    for name, value in UNLIMITED.items():
        overrides.setdefault(name, value)
    settings = ServerSettings(
        data_dir=data_dir,
        api_keys=[hash_api_key(owner, key) for owner, key in keys.items()],
        runner_poll_seconds=0.1,
        **overrides,
    )
    gate, voice_gate = TranscribeGate(), TranscribeGate()
    registry = make_registry(gate, voice_gate)
    pipelines = job_pipelines(registry) if config is None else WarmPipelines(config, registry=registry)
    app = create_app(settings, pipelines=pipelines, registry=registry)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return LiveServer(f"http://127.0.0.1:{port}", settings, keys, gate, voice_gate, app, server, thread)


@pytest.fixture(scope="session")
def sample_video(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    return make_sample_video(tmp_path_factory.mktemp("media") / "talk.mp4")


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_live_server(tmp_path_factory.mktemp("server-data"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    keys = {"alice": "alice-key-0123456789abcdef", "bob": "bob-key-0123456789abcdef"}
    server = start_live_server(tmp_path_factory.mktemp("keyed-data"), keys)
    yield server
    server.stop()


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(
        keys: dict[str, str] | None = None, *, config: PipelineConfig | None = None, **overrides: Any
    ) -> LiveServer:
        server = start_live_server(tmp_path / f"data{len(started)}", keys, config=config, **overrides)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from .browser_support import launch_browser  # Playwright only where a test drives the browser

    yield from launch_browser()
