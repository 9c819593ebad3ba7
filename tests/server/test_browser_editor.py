"""The line editor in a real browser (Debian's Chromium through Playwright, a real uvicorn): upload a talk,
wait for the dub, play a line, change its translation with the keyboard, re-dub, and download again.

The second MP4 must differ from the first only around the edited line: the video, the original audio and
the original-language subtitles packet for packet identical; the dub's AAC packets identical outside the
mix blocks the edit reaches (`dubkit.media.blockmix`: ~30 s blocks, each rendered from 2 s before it, and
encoded to AAC block by block with two frames of context either side, `dubkit.media.aacblocks`), its
decoded samples identical outside the packets that changed (and the decoder's one-frame overlap); the
dub-language subtitles identical but for the edited line's cue. The page logs no console error and asks
nothing of another origin.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from playwright.sync_api import Browser, Page, expect

from dubkit.media.blockmix import PRE_ROLL, block_frames
from dubkit.testing import SampleVideo, make_sample_video
from dubkit.testing.sample_video import lecture_script

from .browser_support import SCREENSHOTS, PageWatch
from .conftest import LiveServer
from .media_compare import decoded, packets, streams, subtitle_cues

JOB_TIMEOUT_MS = 120_000
AAC_FRAME = 1024
NEW_TEXT = "ESTA LÍNEA LA CORRIGIÓ UNA PERSONA"


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    """A 90-second talk: its dub spans three mix blocks."""
    return make_sample_video(tmp_path_factory.mktemp("talk") / "talk.mp4", script=lecture_script(1.5))


@pytest.fixture
def page(browser: Browser, live_server: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live_server.url, accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    yield page
    context.close()


def download(page: Page, folder: Path, name: str) -> Path:
    with page.expect_download() as info:
        page.click("#download-button")
    saved = folder / name
    info.value.save_as(saved)
    return saved


def middle_block_line(lines: list[dict[str, Any]], block_seconds: float) -> dict[str, Any]:
    """A line well inside the second mix block, of a one-line sentence where there is one."""
    inside = [
        line
        for line in lines
        if line["timing"] is not None
        and block_seconds + PRE_ROLL + 1 <= line["start"]
        and line["end"] <= 2 * block_seconds - PRE_ROLL - 1
    ]
    assert inside, "no line inside the second block"
    alone = [line for line in inside if line["sentence"] == line["id"]]
    return (alone or inside)[len(alone or inside) // 2]


def test_listen_edit_redub_changes_only_that_line(
    page: Page, live_server: LiveServer, talk: SampleVideo, tmp_path: Path
) -> None:
    watch = PageWatch(page, live_server.url)
    page.goto("/")
    expect(page.locator("#target-language option[value='es']")).to_have_count(1)
    page.set_input_files("#file", str(talk.path))
    page.select_option("#source-language", "en")
    page.select_option("#target-language", ["es"])
    page.click("#upload-button")
    status = page.locator("#job-status")
    expect(status).to_have_attribute("data-status", "completed", timeout=JOB_TIMEOUT_MS)
    rows = page.locator("#quality-table tbody tr")
    job = httpx.get(f"{live_server.url}/api/v1/jobs", timeout=10).json()["jobs"][0]
    before = httpx.get(f"{live_server.url}{job['links']['segments']}", timeout=10).json()
    expect(rows).to_have_count(len(before["segments"]))
    expect(page.locator("#job-version")).to_have_text("version 1")
    first = download(page, tmp_path, "first.mp4")

    rate = int(str(next(s for s in streams(first) if s["codec_type"] == "audio")["sample_rate"]))
    block_seconds = block_frames(rate) / rate
    line = middle_block_line(before["segments"], block_seconds)
    row = page.locator(f"#quality-table tbody tr[data-segment-id='{line['id']}']")
    expect(row.locator("td").nth(4)).to_have_text(line["source_text"])

    # Play the line's dub: the page's audio element loads the clip and plays it.
    row.get_by_role("button", name=f"Play the dub of line {line['index']}").click()
    page.wait_for_function(
        "() => { const a = document.querySelector('#line-audio'); return a.currentTime > 0.2; }"
    )
    expect(row.get_by_role("button", name=f"Play the dub of line {line['index']}")).to_have_attribute(
        "aria-pressed", "true"
    )
    clip = page.evaluate("() => document.querySelector('#line-audio').duration")
    assert (
        clip == pytest.approx(line["end"] - line["start"] + 0.4, abs=1.0)
        or clip >= line["end"] - line["start"]
    )

    # Edit its translation with the keyboard alone: Edit, type, Enter; focus comes back to Edit.
    edit = row.get_by_role("button", name=f"Edit line {line['index']}")
    edit.focus()
    page.keyboard.press("Enter")
    field = page.locator("#line-translation")
    expect(field).to_be_focused()
    expect(field).to_have_value(line["translation"])
    page.keyboard.press("Control+A")
    page.keyboard.type(NEW_TEXT)
    page.keyboard.press("Enter")
    expect(page.locator("#line-translation")).to_have_count(0)
    expect(edit).to_be_focused()
    expect(row.locator("td").nth(5)).to_contain_text(NEW_TEXT)
    expect(row.locator("td").nth(5)).to_contain_text("not re-dubbed yet")
    redub = page.locator("#redub-button")
    expect(redub).to_have_text("Re-dub 1 edited line")
    expect(redub).to_be_enabled()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "editor-edited.png"), full_page=True)

    # Re-dub: progress on the job panel, then the new version to preview and download.
    redub.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#job-message")).not_to_have_text("")
    expect(page.locator("#job-version")).to_have_text("version 2", timeout=JOB_TIMEOUT_MS)
    expect(status).to_have_attribute("data-status", "completed")
    expect(redub).to_have_text("Re-dub 0 edited lines")
    expect(redub).to_be_disabled()
    expect(row.locator("td").nth(5)).to_contain_text(NEW_TEXT)
    expect(row.locator("td").nth(5)).to_contain_text("edited")
    page.fill("#preview-start", str(math.floor(line["start"])))
    page.fill("#preview-end", str(math.floor(line["start"]) + 4))
    page.click("#preview-button")
    page.wait_for_function("() => document.querySelector('#preview-video').readyState >= 2")
    second = download(page, tmp_path, "second.mp4")
    after = httpx.get(f"{live_server.url}{job['links']['segments']}", timeout=10).json()
    page.screenshot(path=str(SCREENSHOTS / "editor-redubbed.png"), full_page=True)
    watch.assert_clean()

    assert_only_the_line_changed(
        first, second, line, next(s for s in after["segments"] if s["id"] == line["id"])
    )


def assert_only_the_line_changed(first: Path, second: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    layout = streams(first)
    assert [(s["codec_type"], s.get("tags", {}).get("language")) for s in layout] == [
        (s["codec_type"], s.get("tags", {}).get("language")) for s in streams(second)
    ]
    audio = [s["index"] for s in layout if s["codec_type"] == "audio"]
    video = [s["index"] for s in layout if s["codec_type"] == "video"]
    subtitles = {
        s.get("tags", {}).get("language"): s["index"] for s in layout if s["codec_type"] == "subtitle"
    }
    dub, original = audio[0], audio[1]
    for index in (*video, original, subtitles["eng"]):  # bit-identical, packet for packet
        assert packets(first, index) == packets(second, index), layout[index]

    # The dub: which AAC packets changed, and are they all within the mix blocks the edit reaches?
    rate, pcm_first = decoded(first, dub)
    _, pcm_second = decoded(second, dub)
    frames = block_frames(rate)
    old_packets, new_packets = packets(first, dub), packets(second, dub)
    assert len(old_packets) == len(new_packets)
    changed = [i for i, (a, b) in enumerate(zip(old_packets, new_packets, strict=True)) if a != b]
    assert changed, "the re-dub changed nothing in the dub track"
    reach_start = min(old["timing"]["start"], new["timing"]["start"], old["start"])
    reach_end = max(old["timing"]["end"], new["timing"]["end"], old["end"]) + PRE_ROLL
    first_block = math.floor(reach_start * rate / frames)
    last_block = math.floor(reach_end * rate / frames)
    allowed = (
        (first_block * frames - 2 * AAC_FRAME) / rate,
        ((last_block + 1) * frames + 2 * AAC_FRAME) / rate,
    )
    times = [old_packets[i].start for i in changed]
    assert allowed[0] <= min(times) and max(times) <= allowed[1], (allowed, min(times), max(times))
    # The changed packets cover the new line (give or take the packet its first, silent samples share)
    assert min(times) <= new["timing"]["start"] + AAC_FRAME / rate
    assert new["timing"]["end"] <= max(times) + 0.1

    # Decoded samples: identical outside the changed packets and the decoder's overlap of one frame.
    cut_from = max(0, round(min(times) * rate) - 2 * AAC_FRAME)
    cut_to = round((max(times) + old_packets[changed[-1]].duration) * rate) + 2 * AAC_FRAME
    assert pcm_first.shape == pcm_second.shape
    assert np.array_equal(pcm_first[:cut_from], pcm_second[:cut_from])
    assert np.array_equal(pcm_first[cut_to:], pcm_second[cut_to:])
    span = slice(round(new["timing"]["start"] * rate), round(new["timing"]["end"] * rate))
    assert not np.array_equal(pcm_first[span], pcm_second[span])

    # The dub-language subtitles: the same cues but the edited line's.
    target = next(language for language in subtitles if language != "eng")
    old_cues = [c for c in subtitle_cues(first, subtitles[target]) if not _overlaps(c, old, new)]
    new_cues = [c for c in subtitle_cues(second, subtitles[target]) if not _overlaps(c, old, new)]
    assert old_cues == new_cues
    assert any(NEW_TEXT.split(maxsplit=1)[0] in c[2] for c in subtitle_cues(second, subtitles[target]))


def _overlaps(cue: tuple[float, float, str], old: dict[str, Any], new: dict[str, Any]) -> bool:
    start = min(old["timing"]["start"], new["timing"]["start"]) - 0.05
    end = max(old["timing"]["end"], new["timing"]["end"]) + 0.05
    return cue[0] < end and cue[1] > start
