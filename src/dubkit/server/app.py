"""`create_app`: the FastAPI application; its lifespan starts the store, storage, runner and registry."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import Response

from dubkit._version import __version__
from dubkit.backends.registry import Registry
from dubkit.backends.translator_choice import AUTO
from dubkit.jobs.pipelines import JobPipelines, WarmPipelines
from dubkit.server import (
    progress_socket,
    routes_jobs,
    routes_meta,
    routes_redub,
    routes_results,
    routes_segments,
    routes_tus,
    routes_upload,
)
from dubkit.server.problems import install_problem_handlers
from dubkit.server.rates import RateLimitMiddleware
from dubkit.server.routes_upload import UPLOAD_PATH
from dubkit.server.services import ServerServices
from dubkit.server.settings import ServerSettings, load_pipeline_config
from dubkit.server.tus_protocol import TusResumableMiddleware
from dubkit.server.upload_request import BACKEND_FIELDS

__all__ = ["API_PREFIX", "create_app", "static_dir"]

logger = logging.getLogger(__name__)

API_PREFIX = "/api/v1"

PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self' ws: wss:; media-src 'self' blob:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
"""Sent with the web page and its files (not with /docs, whose page loads scripts from a CDN)."""

_PLACEHOLDER = """<!doctype html><html lang="en"><meta charset="utf-8"><title>dubkit</title>
<p>The dubkit server is running. The API is described at <a href="/docs">/docs</a>.</p></html>"""


def static_dir() -> Path:
    """The folder of the web page's files (shipped in the wheel)."""
    return Path(str(resources.files("dubkit.server") / "static"))


def create_app(
    settings: ServerSettings | None = None,
    *,
    pipelines: JobPipelines | None = None,
    registry: Registry | None = None,
) -> FastAPI:
    """The dubkit reference server.

    Nothing is opened until the app starts (its lifespan): then the job store, the storage and the runner (an
    in-process runner with ``settings.runner_workers`` threads, or with ``settings.broker_url`` a link to
    ``dubkit worker`` processes through Redis, with no dubbing here).

    Args:
        settings: The settings (default: read from ``DUBKIT_*`` environment variables).
        pipelines: Where the in-process runner gets each job's pipeline (default: `WarmPipelines` over
            ``settings.pipeline_config`` with the job's own backend choices, keeping models loaded between
            jobs within ``settings.model_memory_budget``); tests pass stand-in backends.
        registry: The backend registry that lists backends and checks the names an upload asks for.

    Raises:
        ConfigError: A malformed API key entry.
    """
    settings = settings or ServerSettings()
    registry = registry or Registry()
    if pipelines is None:
        pipelines = WarmPipelines(
            load_pipeline_config(settings.pipeline_config),
            registry=registry,
            memory_budget=settings.model_memory_budget,
        )
    config = (
        pipelines.config
        if isinstance(pipelines, WarmPipelines)
        else load_pipeline_config(settings.pipeline_config)
    )
    services = ServerServices(settings, pipelines, registry, config)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await anyio.to_thread.run_sync(services.start)
        app.state.services = services
        sweeper = asyncio.create_task(services.sweep_uploads_forever())
        try:
            yield
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
            await anyio.to_thread.run_sync(services.stop)

    app = FastAPI(
        title="dubkit",
        version=__version__,
        description=(
            "Dub videos into other languages. Authenticate with the `X-API-Key` header when the server has "
            "API keys (the progress WebSocket also takes `?api_key=`). Errors are RFC 9457 problem details."
        ),
        lifespan=lifespan,
    )
    app.state.services = services
    install_problem_handlers(app)
    for router in (
        routes_upload.router,
        routes_tus.router,
        routes_jobs.router,
        routes_results.router,
        routes_segments.router,
        routes_redub.router,
        routes_meta.router,
        progress_socket.router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    _document_backend_names(app, registry)
    _mount_page(app)
    app.add_middleware(
        RateLimitMiddleware, limits=services.rate_limits, api_keys=services.api_keys, prefix=API_PREFIX
    )
    app.add_middleware(TusResumableMiddleware, path=API_PREFIX + routes_tus.TUS_PATH)  # on 429s too
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "HEAD", "PATCH", "DELETE"],
            allow_headers=[
                "X-API-Key",
                "If-Match",
                "Range",
                "Content-Type",
                "Tus-Resumable",
                "Upload-Length",
                "Upload-Metadata",
                "Upload-Offset",
            ],
            expose_headers=[
                "ETag",
                "Content-Disposition",
                "Content-Range",
                "Accept-Ranges",
                "Retry-After",
                "Location",
                "Tus-Resumable",
                "Tus-Version",
                "Tus-Extension",
                "Tus-Max-Size",
                "Upload-Offset",
                "Upload-Length",
                "Upload-Expires",
                routes_tus.JOB_IDS_HEADER,
            ],
        )
    if settings.trusted_hosts != ["*"]:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.trusted_hosts)
    return app


def _document_backend_names(app: FastAPI, registry: Registry) -> None:
    """List the registered backend names of each upload field in the OpenAPI schema."""
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build_schema()
            body = schema["paths"][API_PREFIX + UPLOAD_PATH]["post"]["requestBody"]
            fields = body["content"]["multipart/form-data"]["schema"]["properties"]
            for kind in BACKEND_FIELDS:
                fields[kind]["enum"] = registry.names(kind) + ([AUTO] if kind == "translator" else [])
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class _PageFiles(StaticFiles):
    """The page's static files, sent with `PAGE_HEADERS`."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(PAGE_HEADERS)
        return response


def _mount_page(app: FastAPI) -> None:
    folder = static_dir()
    app.mount("/static", _PageFiles(directory=folder, check_dir=False), name="static")

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        page = folder / "index.html"
        if page.is_file():
            return FileResponse(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
        return HTMLResponse(_PLACEHOLDER, headers=PAGE_HEADERS)
