"""Real files with hostile names (spaces, a leading dash, quotes, newlines, non-ASCII, colons) go through
probe, extract and mux like any other."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dubkit.media import FFmpeg, extract_audio, mux, probe

NAMES = [
    "with space.mp4",
    "-i.mp4",
    "-y",
    "quo'te\"s;$(id).mp4",
    "new\nline.mp4",
    "ñandú 日本.mp4",
    "http:evil.mp4",
]


@pytest.mark.parametrize("name", NAMES)
def test_hostile_names(
    name: str,
    mp4: Path,
    tmp_path: Path,
    ffmpeg: FFmpeg,
    monkeypatch: pytest.MonkeyPatch,
    ffprobe_json: Callable[..., dict[str, Any]],
) -> None:
    job = tmp_path / name.replace("\n", "_").replace(".mp4", "")
    job.mkdir()
    monkeypatch.chdir(job)
    shutil.copy(mp4, job / name)
    info = probe(Path(name), ffmpeg=ffmpeg)  # a relative name, as a careless caller would pass it
    assert info.path == job / name
    audio = extract_audio(info, job / f"{name} audio", ffmpeg=ffmpeg)
    out = mux(
        info,
        audio.full,
        target_language="es",
        source_language="en",
        out_path=Path(f"-{name}.dub.mp4"),
        ffmpeg=ffmpeg,
    )
    assert out == job / f"-{name}.dub.mp4"
    report = ffprobe_json(out, "format=duration", "stream=codec_type")
    assert [s["codec_type"] for s in report["streams"]] == ["video", "audio", "audio"]
    assert sorted(p.name for p in job.iterdir()) == sorted([name, f"{name} audio", f"-{name}.dub.mp4"])
