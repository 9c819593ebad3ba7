"""ffprobe's JSON, read defensively."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dubkit.media.probe_json import parse_probe_json


def _doc(streams: list[object], fmt: object) -> bytes:
    return json.dumps({"streams": streams, "format": fmt}).encode()


def test_typical() -> None:
    report = parse_probe_json(
        _doc(
            [
                {
                    "index": 0,
                    "codec_type": "video",
                    "codec_name": "h264",
                    "width": 1920,
                    "height": 1080,
                    "avg_frame_rate": "30000/1001",
                    "r_frame_rate": "30000/1001",
                    "duration": "10.01",
                    "disposition": {"attached_pic": 0},
                    "tags": {"language": "und"},
                },
                {
                    "index": 1,
                    "codec_type": "audio",
                    "codec_name": "aac",
                    "sample_rate": "48000",
                    "channels": 2,
                    "channel_layout": "stereo",
                    "duration": "10.0",
                    "tags": {"language": "eng"},
                },
                {
                    "index": 2,
                    "codec_type": "video",
                    "codec_name": "mjpeg",
                    "width": 300,
                    "height": 300,
                    "disposition": {"attached_pic": 1},
                },
            ],
            {
                "format_name": "mov,mp4,m4a,3gp,3g2,mj2",
                "duration": "10.010000",
                "bit_rate": "5000000",
                "nb_streams": 3,
            },
        )
    )
    video, audio, cover = report.streams
    assert (video.kind, video.width, video.height, video.language) == ("video", 1920, 1080, None)
    assert video.fps == pytest.approx(29.97, abs=0.01)
    assert (audio.sample_rate, audio.channels, audio.language) == (48000, 2, "eng")
    assert cover.kind == "data" and report.attached_pictures == {2}
    assert (report.duration, report.bit_rate, report.nb_streams) == (10.01, 5_000_000, 3)


@pytest.mark.parametrize("bad", ["N/A", "nan", "NaN", "inf", "-inf", "-5", "", "abc", None, [], {}, True])
def test_bad_numbers_are_unknown(bad: object) -> None:
    report = parse_probe_json(
        _doc(
            [
                {
                    "index": 0,
                    "codec_type": "audio",
                    "codec_name": "aac",
                    "sample_rate": bad,
                    "channels": bad,
                    "duration": bad,
                    "width": bad,
                }
            ],
            {"format_name": "wav", "duration": bad, "bit_rate": bad, "nb_streams": bad},
        )
    )
    stream = report.streams[0]
    assert (stream.sample_rate, stream.channels, stream.duration, stream.width) == (None, None, None, None)
    assert (report.duration, report.bit_rate, report.nb_streams) == (None, None, 1)


def test_huge_numbers_are_kept_for_the_limits_to_judge() -> None:
    report = parse_probe_json(
        _doc(
            [
                {
                    "codec_type": "video",
                    "codec_name": "h264",
                    "width": 10**30,
                    "height": "1e6",
                    "avg_frame_rate": "100000/1",
                }
            ],
            {"format_name": "matroska,webm", "duration": "1e300", "nb_streams": 10**6},
        )
    )
    width = report.streams[0].width
    assert width is not None and width >= 10**29
    assert report.streams[0].fps == 100000.0
    assert report.duration == 1e300 and report.nb_streams == 10**6


def test_fallbacks() -> None:
    report = parse_probe_json(
        _doc(
            [
                {"codec_type": "audio", "duration": "3.5"},
                {"codec_type": "weird", "duration": "99"},
                {"codec_type": "video", "avg_frame_rate": "0/0", "r_frame_rate": "25/1"},
                "junk",
            ],
            {},
        )
    )
    assert report.duration == 3.5  # longest audio/video stream when the container says nothing
    assert [s.kind for s in report.streams] == ["audio", "data", "video", "data"]
    assert [s.index for s in report.streams] == [0, 1, 2, 3]
    assert report.streams[0].codec == "unknown"
    assert report.streams[2].fps == 25.0
    assert report.format_name == ""


def test_control_characters_and_long_text_are_cut() -> None:
    report = parse_probe_json(
        _doc(
            [{"codec_type": "audio", "codec_name": "aac\x1b[2J" + "x" * 500, "tags": {"language": "e\nng"}}],
            {"format_name": "wav"},
        )
    )
    assert report.streams[0].codec == "aac[2J" + "x" * 58
    assert report.streams[0].language == "eng"


@pytest.mark.parametrize("garbage", [b"", b"[]", b"null", b"{", b"\xff\xfe"])
def test_not_an_object(garbage: bytes) -> None:
    with pytest.raises(ValueError):
        parse_probe_json(garbage)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)
keys = st.sampled_from(
    [
        "index",
        "codec_type",
        "codec_name",
        "width",
        "height",
        "avg_frame_rate",
        "r_frame_rate",
        "sample_rate",
        "channels",
        "channel_layout",
        "duration",
        "tags",
        "disposition",
        "format_name",
        "bit_rate",
        "nb_streams",
    ]
)


@settings(max_examples=200, deadline=None)
@given(
    streams=st.lists(st.dictionaries(keys, json_values, max_size=8), max_size=4),
    fmt=st.dictionaries(keys, json_values, max_size=6),
)
def test_never_crashes(streams: list[object], fmt: object) -> None:
    report = parse_probe_json(json.dumps({"streams": streams, "format": fmt}, allow_nan=True).encode())
    assert report.nb_streams >= len(report.streams)
    assert report.duration is None or report.duration >= 0
