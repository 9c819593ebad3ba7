"""Request dependencies: the running services and the caller's identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader
from starlette.requests import HTTPConnection

from dubkit.server.problems import ProblemError
from dubkit.server.services import ServerServices

__all__ = ["API_KEY_HEADER", "Owner", "Services", "current_owner", "get_services", "owner_of_connection"]

API_KEY_HEADER = "X-API-Key"
_api_key = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="An API key (when the server has keys)."
)


def get_services(request: Request) -> ServerServices:
    """The services the lifespan started."""
    services: ServerServices = request.app.state.services
    return services


def owner_of_connection(connection: HTTPConnection, key: str | None) -> str | None:
    """Whose request this is (``None``: keys are configured and ``key`` is none of them)."""
    services: ServerServices = connection.app.state.services
    return services.api_keys.owner_of(key)


def current_owner(request: Request, key: Annotated[str | None, Depends(_api_key)]) -> str:
    """The caller's owner name, from the ``X-API-Key`` header (``local`` when the server has no keys).

    Raises:
        ProblemError: 401, the key is missing or unknown.
    """
    owner = owner_of_connection(request, key)
    if owner is None:
        raise ProblemError(
            401,
            "a valid API key is required in the X-API-Key header",
            code="unauthorized",
            headers={"WWW-Authenticate": f'ApiKey header="{API_KEY_HEADER}"'},
        )
    return owner


Services = Annotated[ServerServices, Depends(get_services)]
Owner = Annotated[str, Depends(current_owner)]
