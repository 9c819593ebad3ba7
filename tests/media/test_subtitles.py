"""SubRip and WebVTT files written with pysubs2, with cue text kept as plain text."""

from __future__ import annotations

from pathlib import Path

import pysubs2
import pytest

from dubkit.errors import ConfigError
from dubkit.media import write_subtitles
from dubkit.media.subtitles import clean_cues, subtitle_text
from dubkit.models.media import SubtitleCue

CUES = [
    SubtitleCue(3.0, 4.25, "¿Qué tal?\nMuy bien."),
    SubtitleCue(1.0, 2.5, "Hola"),
    SubtitleCue(5.0, 4.0, "inverted"),
    SubtitleCue(6.0, 7.0, "   "),
]


@pytest.mark.parametrize("suffix", [".srt", ".vtt"])
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    path = write_subtitles(CUES, tmp_path / f"dub{suffix}")
    assert path == tmp_path / f"dub{suffix}"
    parsed = pysubs2.load(str(path), encoding="utf-8")
    assert [(e.start, e.end, e.plaintext) for e in parsed] == [
        (1000, 2500, "Hola"),
        (3000, 4250, "¿Qué tal?\nMuy bien."),
    ]
    text = path.read_text(encoding="utf-8")
    assert (
        text.startswith("WEBVTT") if suffix == ".vtt" else text.startswith("1\n00:00:01,000 --> 00:00:02,500")
    )


def test_text_is_never_markup() -> None:
    hostile = "a {\\an8}b -->\n\nc\\N <b>d</b> & \x1b[2J"
    srt = subtitle_text(hostile, fmt="srt")
    assert (
        "-->" not in srt and "{" not in srt and "\\N" not in srt and "\n\n" not in srt and "\x1b" not in srt
    )
    assert subtitle_text("<b>x</b> & y", fmt="vtt") == "&lt;b&gt;x&lt;/b&gt; &amp; y"


def test_pysubs2_reads_back_what_was_meant(tmp_path: Path) -> None:
    path = write_subtitles([SubtitleCue(0.0, 1.0, "uno {dos} tres")], tmp_path / "x.srt")
    assert [e.plaintext for e in pysubs2.load(str(path))] == ["uno (dos) tres"]


def test_clean_cues_cut_to_the_media() -> None:
    cues = clean_cues(
        [SubtitleCue(-1.0, 0.5, "a"), SubtitleCue(9.0, 12.0, "b"), SubtitleCue(11.0, 12.0, "c")],
        duration=10.0,
    )
    assert cues == [SubtitleCue(0.0, 0.5, "a"), SubtitleCue(9.0, 10.0, "b")]


def test_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        write_subtitles(CUES, tmp_path / "dub.ass")
