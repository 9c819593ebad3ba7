"""Driving the web page in Debian's Chromium (headless, through Playwright): the browser, and a watch on what
a page does that it should not (console errors, script errors, requests to other origins)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, WebSocket, sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-results" / "browser"


class PageWatch:
    """What a page did that it should not: console errors, script errors, requests to other origins."""

    def __init__(self, page: Page, origin: str) -> None:
        self.origin = urlsplit(origin)
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []
        self.foreign_requests: list[str] = []
        self.socket_frames: list[dict[str, Any]] = []
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("request", self._on_request)
        page.on("websocket", self._on_websocket)

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme == "data":
            return True
        if parts.scheme == "blob":  # blob:http://host:port/uuid
            return urlsplit(parts.path).netloc == self.origin.netloc
        return parts.netloc == self.origin.netloc and parts.scheme in ("http", "ws")

    def _on_request(self, request: Request) -> None:
        if not self._same_origin(request.url):
            self.foreign_requests.append(request.url)

    def _on_websocket(self, socket: WebSocket) -> None:
        if not self._same_origin(socket.url):
            self.foreign_requests.append(socket.url)
        socket.on("framereceived", lambda payload: self.socket_frames.append(json.loads(payload)))

    def expected_failures(self, count: int | None, status: int) -> None:
        """Forget ``count`` console errors of requests refused with ``status`` that the test provoked."""
        mark = f"status of {status}"
        provoked = [e for e in self.console_errors if mark in e]
        assert len(provoked) == count if count is not None else provoked, self.console_errors
        self.console_errors = [e for e in self.console_errors if mark not in e]

    def assert_clean(self) -> None:
        assert self.page_errors == []
        assert self.console_errors == []
        assert self.foreign_requests == []


def launch_browser() -> Iterator[Browser]:
    """Debian's Chromium, headless (the tests' ``browser`` fixture)."""
    if not Path(CHROMIUM).is_file():  # ./dev.sh installs it; the README's run fails on any skip
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()
