"""Errors as RFC 9457 problem details (``application/problem+json``), mapped from the DubkitError tree."""

from __future__ import annotations

import logging
import math
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from dubkit.errors import (
    BackendError,
    CancelledError,
    ConfigError,
    DubkitError,
    FFmpegNotFoundError,
    JobError,
    JobNotFoundError,
    MediaError,
    MediaLimitError,
    SegmentNotFoundError,
    UnknownBackendError,
    UploadTooLargeError,
)

__all__ = [
    "PROBLEM_JSON",
    "Problem",
    "ProblemError",
    "install_problem_handlers",
    "problem_response",
    "status_of",
]

logger = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

# Most specific first: the first class an error is an instance of decides its status.
_STATUS: tuple[tuple[type[DubkitError], int], ...] = (
    (JobNotFoundError, 404),
    (SegmentNotFoundError, 404),
    (UploadTooLargeError, 413),
    (FFmpegNotFoundError, 503),
    (MediaLimitError, 422),
    (MediaError, 415),
    (UnknownBackendError, 422),
    (ConfigError, 422),
    (JobError, 409),
    (CancelledError, 409),
    (BackendError, 500),
)


class Problem(BaseModel):
    """An RFC 9457 problem: ``type``, ``title``, ``status``, ``detail``, plus the error's own fields."""

    model_config = ConfigDict(extra="allow")

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    code: str | None = None


class ProblemError(Exception):
    """An HTTP-level problem that is not a dubkit error (authentication, an unknown route)."""

    def __init__(
        self, status: int, detail: str, *, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.headers = headers or {}


def status_of(error: DubkitError) -> int:
    """The HTTP status of a dubkit error (500 for anything unexpected, such as a storage failure)."""
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 500


def _title(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def problem_response(
    status: int,
    detail: str | None,
    *,
    code: str | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """A problem-details response."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _title(status),
        "status": status,
        "detail": detail,
    }
    if code is not None:
        body["code"] = code
    for key, value in (extra or {}).items():
        if key not in body:
            body[key] = _jsonable(value)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def dubkit_problem(error: DubkitError) -> JSONResponse:
    """The problem response of a dubkit error; server-side failures (5xx) do not leak their details."""
    status = status_of(error)
    if status >= 500 and status != 503:
        logger.error("request failed: %s", error, exc_info=error)
        return problem_response(status, "the server could not complete the request", code=error.code)
    fields = error.to_dict()
    fields.pop("path", None)  # server-side file paths are not the client's business
    fields.pop("url", None)
    detail = str(error)
    # An upload refused before its end: close the connection rather than read (and discard) the rest.
    headers = {"Connection": "close"} if isinstance(error, UploadTooLargeError) else None
    return problem_response(status, detail, code=error.code, extra=fields, headers=headers)


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of ``app`` a problem-details response."""

    async def on_dubkit(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DubkitError)
        return dubkit_problem(exc)

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ProblemError)
        return problem_response(exc.status, exc.detail, code=exc.code, headers=exc.headers)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        return problem_response(exc.status_code, str(exc.detail), headers=headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        return problem_response(
            422, "the request is invalid", code="validation_error", extra={"errors": errors}
        )

    async def on_disconnect(request: Request, exc: Exception) -> JSONResponse:
        logger.info("client left during %s %s", request.method, request.url.path)
        return problem_response(400, "the client closed the connection before the request was read")

    app.add_exception_handler(DubkitError, on_dubkit)
    app.add_exception_handler(ClientDisconnect, on_disconnect)
    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
