"""The web page in a real browser: Debian's Chromium, headless, driven by Playwright, against a real uvicorn.

The page (src/dubkit/server/static/) is used as a person would: choose a generated video and the languages,
upload, watch the progress reach "completed" over the WebSocket, play a preview, download the dub, cancel a
slow second job, see a non-media file refused with the server's problem details. Throughout, the page must
log no console error, raise no script error, break no rule of a strict Content-Security-Policy and ask for
nothing outside the server's origin. Screenshots of the page go to test-results/browser/ (untracked).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, WebSocketRoute, expect

from dubkit.media import probe
from dubkit.testing import SampleVideo

from .browser_support import SCREENSHOTS, PageWatch
from .conftest import LiveServer

JOB_TIMEOUT_MS = 60_000


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def choose_and_upload(page: Page, video: Path, targets: list[str]) -> None:
    page.set_input_files("#file", str(video))
    page.select_option("#source-language", "en")
    page.select_option("#target-language", targets)
    page.click("#upload-button")


def test_upload_watch_preview_download_cancel(
    page: Page, live_server: LiveServer, sample_video: SampleVideo, tmp_path: Path
) -> None:
    watch = PageWatch(page, live_server.url)
    page.goto("/")
    # The page carries its own strict Content-Security-Policy; a violation would be a console error.
    policy = page.locator("meta[http-equiv='Content-Security-Policy']").get_attribute("content") or ""
    assert "default-src 'self'" in policy
    assert "script-src 'self';" in policy
    expect(page.locator("#target-language option[value='es']")).to_have_count(1)
    expect(page.locator("#source-language")).to_have_value("auto")
    expect(page.locator("#server-version")).to_contain_text("dubkit")

    # A file that is not media: refused after upload, with the server's problem details shown.
    bogus = tmp_path / "page.mp4"
    bogus.write_text("<!doctype html><title>not a video</title>" * 20)
    choose_and_upload(page, bogus, ["es"])
    expect(page.locator("#alert")).to_be_visible()
    expect(page.locator("#alert-text")).to_contain_text("Unsupported Media Type")
    watch.expected_failures(1, 415)
    page.click("#alert-close")
    expect(page.locator("#alert")).to_be_hidden()

    # Upload, and watch the job reach "completed" over the WebSocket.
    choose_and_upload(page, sample_video.path, ["es"])
    expect(page.locator("#upload-progress")).to_have_js_property("value", 1)
    expect(page.locator("#upload-text")).to_contain_text("1 job started")
    status = page.locator("#job-status")
    expect(status).to_have_attribute("data-status", "completed", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#job-panel")).to_have_attribute("data-transport", "websocket")
    expect(page.locator("#job-progress")).to_have_js_property("value", 1)
    expect(page.locator("#jobs-table tbody tr.selected")).to_have_count(1)

    # The per-line quality table matches the project the server holds.
    job = httpx.get(f"{live_server.url}/api/v1/jobs", timeout=10).json()["jobs"][0]
    assert job["status"] == "completed"
    project = httpx.get(f"{live_server.url}{job['links']['project']}", timeout=10).json()
    rows = page.locator("#quality-table tbody tr")
    expect(rows).to_have_count(len(project["segments"]))
    assert len(project["segments"]) >= 1
    first = project["segments"][0]
    expect(rows.nth(0).locator("td").nth(4)).to_have_text(first["source_text"])
    expect(rows.nth(0).locator("td").nth(5)).to_contain_text(first["translation"])
    # The table loads on the socket's final message: every frame has arrived by now.
    kinds = [frame["type"] for frame in watch.socket_frames]
    assert "progress" in kinds
    assert kinds[-1] == "final"
    assert watch.socket_frames[-1]["status"] == "completed"
    stages = {frame["stage"] for frame in watch.socket_frames if frame["type"] == "progress"}
    assert {"transcribe", "translate", "synthesize", "mux"} <= stages, stages

    # The preview plays: a 3 s clip loads with the right duration and its time advances. (The server cuts
    # from the keyframe at or before the start; the clip starts at 0, a keyframe, so it is exactly 3 s.)
    page.fill("#preview-start", "0")
    page.fill("#preview-end", "3")
    page.click("#preview-button")
    video = page.locator("#preview-video")
    page.wait_for_function("() => document.querySelector('#preview-video').readyState >= 2")
    duration = video.evaluate("v => v.duration")
    assert duration == pytest.approx(3.0, abs=0.35)
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("() => document.querySelector('#preview-video').currentTime > 0.3")
    assert urlsplit(video.evaluate("v => v.currentSrc")).path == f"/api/v1/jobs/{job['id']}/preview"

    # The download is the dubbed MP4.
    with page.expect_download() as download_info:
        page.click("#download-button")
    download = download_info.value
    assert download.suggested_filename.endswith(".mp4")
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    info = probe(saved)
    assert info.has_video
    assert info.duration == pytest.approx(sample_video.duration, abs=0.5)

    # A slow second job (the stand-in transcriber waits at a gate) is cancelled from the page.
    live_server.gate.close()
    try:
        choose_and_upload(page, sample_video.path, ["fr"])
        assert live_server.gate.entered.wait(30), "the second job never reached transcription"
        expect(status).to_have_attribute("data-status", "processing")
        expect(page.locator("#cancel-button")).to_be_enabled()
        page.click("#cancel-button")
    finally:
        live_server.gate.open()
    expect(status).to_have_attribute("data-status", "cancelled", timeout=JOB_TIMEOUT_MS)
    expect(page.locator("#download-button")).to_be_disabled()

    # The job list shows both, newest first.
    page.click("#jobs-refresh")
    statuses = page.locator("#jobs-table tbody tr td[data-status]")
    expect(statuses).to_have_count(2)
    expect(statuses.nth(0)).to_have_attribute("data-status", "cancelled")
    expect(statuses.nth(1)).to_have_attribute("data-status", "completed")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "cancelled.png"), full_page=True)

    # Back to the finished job with the keyboard alone: its results come back, focus goes to the job.
    page.locator("#jobs-table tbody tr").nth(1).locator("button").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#job-heading")).to_be_focused()
    expect(status).to_have_attribute("data-status", "completed")
    expect(rows).to_have_count(len(project["segments"]))
    expect(page.locator("#download-button")).to_be_enabled()
    page.screenshot(path=str(SCREENSHOTS / "completed.png"), full_page=True)
    watch.assert_clean()


def test_api_key_is_asked_for_and_used(
    browser: Browser, keyed_server: LiveServer, sample_video: SampleVideo, tmp_path: Path
) -> None:
    context = browser.new_context(base_url=keyed_server.url, accept_downloads=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    watch = PageWatch(page, keyed_server.url)
    try:
        page.goto("/")
        expect(page.locator("#alert-text")).to_contain_text("API key")
        watch.expected_failures(None, 401)
        page.fill("#api-key", keyed_server.keys["alice"])
        page.click("#key-form button[type=submit]")
        expect(page.locator("#alert")).to_be_hidden()
        expect(page.locator("#target-language option[value='de']")).to_have_count(1)
        assert page.evaluate("() => localStorage.getItem('dubkit.apiKey')") == keyed_server.keys["alice"]

        # The first progress socket is dropped (as by a proxy restart): the page reconnects by itself.
        sockets: list[str] = []

        def drop_the_first(socket: WebSocketRoute) -> None:
            sockets.append(socket.url)
            if len(sockets) == 1:
                socket.close(code=1011, reason="dropped by the test")
            else:
                socket.connect_to_server()

        page.route_web_socket(re.compile(r"/api/v1/jobs/[^/]+/progress"), drop_the_first)
        choose_and_upload(page, sample_video.path, ["de"])
        status = page.locator("#job-status")
        expect(status).to_have_attribute("data-status", "completed", timeout=JOB_TIMEOUT_MS)
        expect(page.locator("#job-panel")).to_have_attribute("data-transport", "websocket")
        assert len(sockets) == 2
        for url in sockets:  # a browser cannot set headers on a WebSocket: the key goes in the query
            assert parse_qs(urlsplit(url).query)["api_key"] == [keyed_server.keys["alice"]]
        expect(page.locator("#quality-table tbody tr").first).to_be_visible()

        # With a key, the preview is fetched with the header and played from a blob: URL.
        page.fill("#preview-start", "0")
        page.fill("#preview-end", "2")
        page.click("#preview-button")
        page.wait_for_function("() => document.querySelector('#preview-video').readyState >= 2")
        video = page.locator("#preview-video")
        assert video.evaluate("v => v.currentSrc").startswith("blob:")
        assert video.evaluate("v => v.duration") == pytest.approx(2.0, abs=0.35)

        with page.expect_download() as download_info:
            page.click("#download-button")
        download = download_info.value
        assert download.suggested_filename.endswith(".de.mp4")
        saved = tmp_path / "keyed.mp4"
        download.save_as(saved)
        assert probe(saved).has_video

        # Another tenant's key sees none of alice's jobs.
        page.fill("#api-key", keyed_server.keys["bob"])
        page.click("#key-form button[type=submit]")
        expect(page.locator("#jobs-empty")).to_be_visible()
        expect(page.locator("#job-panel")).to_be_hidden()
        watch.assert_clean()
    finally:
        context.close()


def test_too_large_upload_shows_the_limit(
    browser: Browser, start_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    server = start_server(max_upload_bytes=1_000_000)
    big = tmp_path / "big.mp4"
    with big.open("wb") as out:
        out.truncate(3_000_000)
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    watch = PageWatch(page, server.url)
    try:
        page.goto("/")
        expect(page.locator("#target-language option[value='es']")).to_have_count(1)
        choose_and_upload(page, big, ["es"])
        expect(page.locator("#alert-text")).to_contain_text("Request Entity Too Large")
        expect(page.locator("#alert-text")).to_contain_text("1000000")  # the detail names the limit
        expect(page.locator("#upload-progress")).to_have_js_property("value", 0)
        expect(page.locator("#upload-button")).to_be_enabled()
        watch.expected_failures(1, 413)
        watch.assert_clean()
        assert httpx.get(f"{server.url}/api/v1/jobs", timeout=10).json()["total"] == 0
    finally:
        context.close()


def test_progress_falls_back_to_polling(
    browser: Browser, start_server: Callable[..., LiveServer], sample_video: SampleVideo
) -> None:
    server = start_server()
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    watch = PageWatch(page, server.url)
    try:
        # Every progress socket is refused (as behind a proxy that does not pass WebSockets).
        page.route_web_socket(
            re.compile(r"/api/v1/jobs/[^/]+/progress"),
            lambda socket: socket.close(code=4503, reason="no WebSockets here"),
        )
        page.goto("/")
        expect(page.locator("#target-language option[value='es']")).to_have_count(1)
        choose_and_upload(page, sample_video.path, ["es"])
        status = page.locator("#job-status")
        expect(status).to_have_attribute("data-status", "completed", timeout=JOB_TIMEOUT_MS)
        expect(page.locator("#job-panel")).to_have_attribute("data-transport", "polling")
        expect(page.locator("#quality-table tbody tr").first).to_be_visible()
        expect(page.locator("#download-button")).to_be_enabled()
        watch.assert_clean()
    finally:
        context.close()


def test_upload_resumes_after_a_network_error(
    browser: Browser, start_server: Callable[..., LiveServer], sample_video: SampleVideo
) -> None:
    server = start_server()
    context = browser.new_context(base_url=server.url)
    context.set_default_timeout(20_000)
    page = context.new_page()
    watch = PageWatch(page, server.url)
    calls: list[str] = []

    def lose_the_first_patch(route: Route) -> None:
        calls.append(route.request.method)
        if route.request.method == "PATCH" and calls.count("PATCH") == 1:
            route.abort("connectionreset")  # the chunk never reaches the server
        else:
            route.continue_()

    try:
        page.route(re.compile(r"/api/v1/uploads(/[^/]+)?$"), lose_the_first_patch)
        page.goto("/")
        expect(page.locator("#target-language option[value='es']")).to_have_count(1)
        choose_and_upload(page, sample_video.path, ["es"])
        expect(page.locator("#upload-text")).to_contain_text("1 job started")
        expect(page.locator("#upload-progress")).to_have_js_property("value", 1)
        # tus: create, the lost PATCH, HEAD for the offset, the PATCH again, then the upload's jobs.
        assert calls == ["POST", "PATCH", "HEAD", "PATCH", "GET"], calls
        status = page.locator("#job-status")
        expect(status).to_have_attribute("data-status", "completed", timeout=JOB_TIMEOUT_MS)
        lost = [e for e in watch.console_errors if "ERR_CONNECTION_RESET" in e or "ERR_FAILED" in e]
        assert len(lost) <= 1, watch.console_errors
        watch.console_errors = [e for e in watch.console_errors if e not in lost]
        watch.assert_clean()
        assert not list((server.settings.upload_dir / "tus").glob("*.part"))
    finally:
        context.close()


def test_the_page_offers_only_the_targets_the_server_can_dub_and_says_why_not_the_others(
    browser: Browser, start_server: Callable[..., LiveServer]
) -> None:
    from .fast_backends import CONFIG

    server = start_server(config=CONFIG.model_copy(update={"translator": "apertium"}))
    context = browser.new_context(base_url=server.url)
    page = context.new_page()
    watch = PageWatch(page, server.url)
    page.goto("/")
    expect(page.locator("#source-language option[value='auto']")).to_have_count(1)

    def offered() -> set[str]:
        return set(page.locator("#target-language option").evaluate_all("os => os.map(o => o.value)"))

    page.select_option("#source-language", "en")
    expect(page.locator("#target-language option[value='es']")).to_have_count(1)
    assert {"es", "ca", "eo"} <= offered() and not {"en", "ja", "de"} & offered()
    missing = page.locator("#target-missing")
    expect(missing).to_be_visible()
    missing.locator("summary").click()
    expect(missing).to_contain_text(
        "Japanese (ja): the translator apertium does not translate English into it"
    )
    page.select_option("#source-language", "es")
    expect(page.locator("#target-language option[value='pt']")).to_have_count(1)
    assert {"en", "pt", "fr", "it", "ca"} <= offered() and "es" not in offered()
    page.screenshot(path=str(SCREENSHOTS / "languages.png"), full_page=True)
    watch.assert_clean()
    context.close()
