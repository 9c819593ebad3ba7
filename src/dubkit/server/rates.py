"""Request rate limits (the ``limits`` library, moving windows in memory) and the middleware applying them.

Two budgets per caller: one for uploads (``POST /upload`` and tus creations, ``POST /uploads``) and one for
every other API request (a progress WebSocket counts once, when it connects). ``/health`` and the web page
are never limited. A caller is the owner of a valid API key; a request without a valid key (only possible
when the server has keys, and answered 401 anyway) is counted against its client address, so guessing keys
is limited too. A server without keys has one owner, ``local``, hence one budget.

The counters live in the server process: several server processes behind one address would each count on
their own.
"""

from __future__ import annotations

import math
import time
from typing import Literal

from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from dubkit.server.auth import ApiKeys
from dubkit.server.problems import problem_response

__all__ = ["Budget", "RateLimitMiddleware", "RateLimits", "caller_of", "parse_rates"]

Budget = Literal["upload", "api"]


def parse_rates(text: str) -> list[RateLimitItem]:
    """The limits of a setting such as ``10/minute`` or ``10/minute;100/hour`` (none for ``""`` or ``0``).

    Raises:
        ValueError: The text is not in the ``limits`` notation.
    """
    text = text.strip()
    if text in ("", "0"):
        return []
    return parse_many(text)


def caller_of(owner: str | None, client_host: str | None) -> str:
    """Whose budget a request spends: its owner, or its client address when it has no valid key."""
    if owner is not None:
        return f"owner:{owner}"
    return f"address:{client_host or 'unknown'}"


class RateLimits:
    """The upload and API budgets of every caller.

    Args:
        upload: The upload limits (``limits`` notation; empty: none).
        api: The limits of other API requests (empty: none).
    """

    def __init__(self, upload: str, api: str) -> None:
        self._items: dict[Budget, list[RateLimitItem]] = {
            "upload": parse_rates(upload),
            "api": parse_rates(api),
        }
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def spend(self, budget: Budget, caller: str) -> int | None:
        """Count one request of ``caller`` against ``budget``.

        Returns:
            ``None`` when the request is allowed; else the seconds until it would be (for ``Retry-After``).
        """
        items = self._items[budget]
        blocked = [item for item in items if not self._limiter.test(item, budget, caller)]
        if not blocked:
            for item in items:
                self._limiter.hit(item, budget, caller)
            return None
        reset = max(self._limiter.get_window_stats(item, budget, caller).reset_time for item in blocked)
        return max(1, math.ceil(reset - time.time()))


class RateLimitMiddleware:
    """Refuses an HTTP request over its caller's budget with 429, a problem body and ``Retry-After``.

    WebSockets pass through: the progress socket spends its budget itself when it connects, so it can close
    with its own code.

    Args:
        app: The application.
        limits: The budgets.
        api_keys: The configured keys (to tell the caller).
        prefix: The API's path prefix (``/api/v1``); nothing outside it is limited.
    """

    def __init__(self, app: ASGIApp, *, limits: RateLimits, api_keys: ApiKeys, prefix: str) -> None:
        self.app = app
        self.limits = limits
        self.api_keys = api_keys
        self.prefix = prefix
        self._exempt = {prefix + "/health"}
        self._uploads = {prefix + "/upload", prefix + "/uploads"}

    def budget_of(self, method: str, path: str) -> Budget | None:
        """The budget a request spends (``None``: not limited)."""
        if not path.startswith(self.prefix + "/") or path in self._exempt:
            return None
        if method == "POST" and path in self._uploads:
            return "upload"
        return "api"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Spend the request's budget, or answer 429."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        budget = self.budget_of(scope["method"], scope["path"])
        if budget is not None:
            headers = Headers(scope=scope)
            owner = self.api_keys.owner_of(headers.get("x-api-key"))
            client = scope.get("client")
            wait = self.limits.spend(budget, caller_of(owner, client[0] if client else None))
            if wait is not None:
                headers_out = {"Retry-After": str(wait)}
                if budget == "upload":  # do not read (and discard) the body of a refused upload
                    headers_out["Connection"] = "close"
                response = problem_response(
                    429,
                    f"too many {'uploads' if budget == 'upload' else 'requests'}; try again in {wait} s",
                    code="rate_limited",
                    headers=headers_out,
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
