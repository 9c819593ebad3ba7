"""Tenants: API keys, and another owner's job is a 404 on every route that takes a job id."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.routing import APIRoute, APIWebSocketRoute

from dubkit.testing import SampleVideo

from .conftest import LiveServer
from .helpers import read_socket, upload_job, wait_finished, ws_url


@pytest.fixture(scope="module")
def alice_job(keyed_server: LiveServer, sample_video: SampleVideo) -> dict[str, Any]:
    client = keyed_server.client("alice")
    job = upload_job(client, sample_video.path, "es")
    return wait_finished(client, job["id"])


def all_routes(routes: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(full path, route) of every route, through included routers (FastAPI >= 0.165 wraps them)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            yield from all_routes(included.routes, prefix + route.include_context.prefix)
        else:
            yield prefix + route.path, route


def http_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route of the app; checked against the OpenAPI schema."""
    found = [
        (method, path)
        for path, route in all_routes(app.routes)
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]
    schema = app.openapi()["paths"]
    documented = {(method.upper(), path) for path, item in schema.items() for method in item}
    assert documented <= set(found)
    return found


def socket_routes(app: Any) -> list[str]:
    return [path for path, route in all_routes(app.routes) if isinstance(route, APIWebSocketRoute)]


def id_routes(app: Any) -> list[tuple[str, str]]:
    """(method, path) of every HTTP route whose path takes a job id."""
    return [(method, path) for method, path in http_routes(app) if "{job_id}" in path]


def api_routes(app: Any) -> list[tuple[str, str]]:
    return [(method, path) for method, path in http_routes(app) if path.startswith("/api/")]


def test_another_tenant_gets_404_on_every_route_with_an_id(
    keyed_server: LiveServer, alice_job: dict[str, Any]
) -> None:
    routes = id_routes(keyed_server.app)
    # get, status, cancel, download, preview, srt, vtt, project, segments, a segment, its audio, redub
    assert len(routes) >= 12
    alice, bob = keyed_server.client("alice"), keyed_server.client("bob")
    segment = alice.get(alice_job["links"]["segments"]).json()["segments"][0]["id"]
    for method, template in routes:
        path = template.replace("{segment_id}", segment)
        change = {"translation": "BOB WAS HERE"} if method == "PATCH" else None  # a valid change, refused
        foreign = bob.request(
            method, path.replace("{job_id}", alice_job["id"]), json=change, headers={"If-Match": "*"}
        )
        missing = bob.request(
            method, path.replace("{job_id}", "0" * 32), json=change, headers={"If-Match": "*"}
        )
        assert foreign.status_code == 404, (method, path, foreign.text)
        assert foreign.headers["content-type"] == "application/problem+json"
        assert foreign.json()["code"] == missing.json()["code"] == "job_not_found"
        assert foreign.json()["detail"].replace(alice_job["id"], "ID") == missing.json()["detail"].replace(
            "0" * 32, "ID"
        )
        mine = alice.request(method, path.replace("{job_id}", alice_job["id"]), json=change)
        assert mine.status_code != 404, (method, path)
    assert (
        alice.get(f"/api/v1/jobs/{alice_job['id']}").json()["status"] == "completed"
    )  # bob's cancel did nothing
    assert alice.get(alice_job["links"]["segments"]).json()["pending_segments"] == []  # nor his edits
    assert bob.get("/api/v1/jobs").json() == {"jobs": [], "total": 0, "limit": 50, "offset": 0}


def test_another_tenant_cannot_watch_a_job(keyed_server: LiveServer, alice_job: dict[str, Any]) -> None:
    assert socket_routes(keyed_server.app) == ["/api/v1/jobs/{job_id}/progress"]
    url = ws_url(keyed_server.url, alice_job["id"])
    messages, code = read_socket(url, additional_headers={"X-API-Key": keyed_server.keys["bob"]})
    assert (messages, code) == ([], 4404)
    messages, code = read_socket(ws_url(keyed_server.url, alice_job["id"], keyed_server.keys["alice"]))
    assert [m["type"] for m in messages] == ["progress", "final"] and code == 1000
    messages, code = read_socket(ws_url(keyed_server.url, alice_job["id"], "wrong-key-0123456789"))
    assert (messages, code) == ([], 4401)


@pytest.mark.parametrize("key", [None, "not-a-key-0123456789", ""])
def test_every_api_route_but_health_needs_a_valid_key(keyed_server: LiveServer, key: str | None) -> None:
    client = keyed_server.client()
    headers = {} if key is None else {"X-API-Key": key}
    for method, path in api_routes(keyed_server.app):
        response = client.request(method, re.sub(r"\{[^}]+\}", "abc", path), headers=headers)
        if path == "/api/v1/health":
            assert response.status_code == 200
            continue
        assert response.status_code == 401, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["www-authenticate"] == 'ApiKey header="X-API-Key"'
