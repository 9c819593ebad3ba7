"""mux: the input's video copied bit for bit, the dub as the default track, the original second, both
language-tagged, soft subtitles, index in front, the input's length."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from dubkit.errors import UnknownLanguageError, UnsupportedFormatError
from dubkit.media import FFmpeg, extract_audio, mux, probe
from dubkit.models.media import AudioFile, MediaInfo, SubtitleCue

TARGET = [SubtitleCue(0.5, 1.5, "Hola"), SubtitleCue(2.0, 3.0, "¿Qué tal?"), SubtitleCue(2.5, 99.0, "largo")]
SOURCE = [SubtitleCue(0.5, 1.5, "Hello"), SubtitleCue(2.0, 3.0, "How are you?")]


def video_md5(path: Path) -> str:
    out = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:v", "-c", "copy", "-f", "md5", "-"],
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
    ).stdout
    return out.decode().strip()


def _dubbed(info: MediaInfo, tmp_path: Path, ffmpeg: FFmpeg) -> AudioFile:
    return extract_audio(info, tmp_path / "audio", ffmpeg=ffmpeg).full  # stands in for the mix


def _streams(report: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [s for s in report["streams"] if s["codec_type"] == kind]


ENTRIES = (
    "format=duration,format_name",
    "stream=index,codec_type,codec_name,channels,sample_rate",
    "stream_tags=language",
    "stream_disposition=default",
)


@pytest.mark.parametrize("name", ["mp4", "mkv", "surround"])
def test_mux_video(
    name: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    ffmpeg: FFmpeg,
    ffprobe_json: Callable[..., dict[str, Any]],
) -> None:
    source = request.getfixturevalue(name)
    info = probe(source, ffmpeg=ffmpeg)
    out = mux(
        info,
        _dubbed(info, tmp_path, ffmpeg),
        cues_target=TARGET,
        cues_source=SOURCE,
        target_language="es",
        source_language="en",
        out_path=tmp_path / "out" / "dub.mp4",
        ffmpeg=ffmpeg,
    )
    assert out == tmp_path / "out" / "dub.mp4"
    assert sorted(p.name for p in out.parent.iterdir()) == ["dub.mp4"]  # no temp files left

    assert video_md5(out) == video_md5(source)  # packet for packet, never re-encoded
    report = ffprobe_json(out, *ENTRIES)
    assert report["format"]["format_name"].startswith("mov,mp4")
    assert float(report["format"]["duration"]) == pytest.approx(info.duration, abs=0.05)
    dub, original = _streams(report, "audio")
    assert (dub["codec_name"], dub["tags"]["language"], dub["disposition"]["default"]) == ("aac", "spa", 1)
    assert (original["tags"]["language"], original["disposition"]["default"]) == ("eng", 0)
    assert dub["channels"] == info.primary_audio.channels  # type: ignore[union-attr]
    assert original["codec_name"] == "aac"  # AAC is copied, Opus (mkv) re-encoded to AAC
    subs = _streams(report, "subtitle")
    assert [(s["codec_name"], s["tags"]["language"]) for s in subs] == [
        ("mov_text", "spa"),
        ("mov_text", "eng"),
    ]
    assert _moov_before_mdat(out)


def _moov_before_mdat(path: Path) -> bool:
    data = path.read_bytes()
    return 0 < data.find(b"moov") < data.find(b"mdat")


def test_original_audio_is_copied_when_mp4_can_carry_it(mp4: Path, tmp_path: Path, ffmpeg: FFmpeg) -> None:
    info = probe(mp4, ffmpeg=ffmpeg)
    out = mux(
        info,
        _dubbed(info, tmp_path, ffmpeg),
        target_language="es",
        source_language="en",
        out_path=tmp_path / "dub.mp4",
        ffmpeg=ffmpeg,
    )

    def audio_md5(path: Path, index: int) -> str:
        return subprocess.run(
            [
                "ffmpeg",
                "-v",
                "error",
                "-i",
                str(path),
                "-map",
                f"0:a:{index}",
                "-c",
                "copy",
                "-f",
                "md5",
                "-",
            ],
            check=True,
            capture_output=True,
        ).stdout.decode()

    assert audio_md5(out, 1) == audio_md5(mp4, 0)


def test_without_original_audio_or_subtitles(
    mp4: Path, tmp_path: Path, ffmpeg: FFmpeg, ffprobe_json: Callable[..., dict[str, Any]]
) -> None:
    info = probe(mp4, ffmpeg=ffmpeg)
    out = mux(
        info,
        _dubbed(info, tmp_path, ffmpeg),
        original_audio_from_input=False,
        target_language="fr",
        source_language="en",
        out_path=tmp_path / "dub.mp4",
        ffmpeg=ffmpeg,
    )
    report = ffprobe_json(out, *ENTRIES)
    assert [s["codec_type"] for s in report["streams"]] == ["video", "audio"]
    assert report["streams"][1]["tags"]["language"] == "fra"


@pytest.mark.parametrize("name", ["wav", "mp3"])
def test_audio_only_gives_m4a(
    name: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    ffmpeg: FFmpeg,
    ffprobe_json: Callable[..., dict[str, Any]],
) -> None:
    info = probe(request.getfixturevalue(name), ffmpeg=ffmpeg)
    out = mux(
        info,
        _dubbed(info, tmp_path, ffmpeg),
        cues_target=TARGET,
        cues_source=SOURCE,
        target_language="de",
        source_language="en",
        out_path=tmp_path / "dub.mp4",
        ffmpeg=ffmpeg,
    )
    assert out == tmp_path / "dub.m4a"
    report = ffprobe_json(out, *ENTRIES)
    assert [s["codec_type"] for s in report["streams"]] == ["audio", "audio", "subtitle", "subtitle"]
    assert [s["tags"]["language"] for s in report["streams"]] == ["deu", "eng", "deu", "eng"]
    assert float(report["format"]["duration"]) == pytest.approx(info.duration, abs=0.05)
    major = out.read_bytes()[8:12]
    assert major == b"M4A "


def test_codec_mp4_cannot_carry(tmp_path: Path, ffmpeg: FFmpeg, make_media: Callable[..., Path]) -> None:
    webm = make_media(
        tmp_path / "clip.webm",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=s=64x48:d=1",
        "-f",
        "lavfi",
        "-i",
        "sine=d=1",
        "-c:v",
        "libvpx",
        "-deadline",
        "realtime",
        "-c:a",
        "libopus",
        "-shortest",
    )
    info = probe(webm, ffmpeg=ffmpeg)
    with pytest.raises(UnsupportedFormatError):
        mux(
            info,
            _dubbed(info, tmp_path, ffmpeg),
            target_language="es",
            source_language="en",
            out_path=tmp_path / "dub.mp4",
            ffmpeg=ffmpeg,
        )


def test_unknown_language(mp4: Path, tmp_path: Path, ffmpeg: FFmpeg) -> None:
    info = probe(mp4, ffmpeg=ffmpeg)
    with pytest.raises(UnknownLanguageError):
        mux(
            info,
            _dubbed(info, tmp_path, ffmpeg),
            target_language="xx",
            source_language="en",
            out_path=tmp_path / "dub.mp4",
            ffmpeg=ffmpeg,
        )
    assert not (tmp_path / "dub.mp4").exists()


def test_dub_track_is_sample_aligned_and_deterministic(
    mp4: Path, tmp_path: Path, ffmpeg: FFmpeg, make_media: Callable[..., Path]
) -> None:
    """The block-encoded dub starts exactly at 0 (the encoder's priming skipped by the edit list)."""
    import numpy as np

    from dubkit.media import read_wav_info

    info = probe(mp4, ffmpeg=ffmpeg)
    dub_wav = make_media(
        tmp_path / "dub.wav",
        "-f",
        "lavfi",
        "-i",
        "aevalsrc='0.3*sin(2*PI*(300+200*floor(t/0.3))*t)':d=4:s=48000",
        "-ac",
        "2",
        "-c:a",
        "pcm_s16le",
    )
    dubbed = read_wav_info(dub_wav)
    outs = [
        mux(
            info,
            dubbed,
            target_language="es",
            source_language="en",
            out_path=tmp_path / name / "dub.mp4",
            ffmpeg=ffmpeg,
        )
        for name in ("a", "b")
    ]
    assert outs[0].read_bytes() == outs[1].read_bytes()

    def decode(path: Path, *args: str) -> np.ndarray:
        out = subprocess.run(
            ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), *args, "-f", "f32le", "-ac", "1", "-"],
            check=True,
            capture_output=True,
        ).stdout
        return np.frombuffer(out, dtype=np.float32)

    source = decode(dub_wav)
    track = decode(outs[0], "-map", "0:a:0")
    assert abs(len(track) - len(source)) < 1024
    errors = {
        lag: float(np.mean((track[lag : lag + 150_000] - source[:150_000]) ** 2)) for lag in (0, 1024)
    } | {-1024: float(np.mean((track[:150_000] - source[1024:151_024]) ** 2))}
    assert min(errors, key=errors.__getitem__) == 0
    assert errors[0] < 0.01 * errors[1024]
