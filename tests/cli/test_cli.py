"""The command line, run as a user runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dubkit import __version__
from dubkit.cli import app
from dubkit.cli.dub_command import parse_options
from dubkit.errors import ConfigError

runner = CliRunner()


def _dubkit(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("dubkit", path=str(Path(sys.executable).parent))
    assert exe, "the dubkit script is installed in the environment"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120)


def test_version() -> None:
    out = _dubkit("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"dubkit {__version__}"


def test_backends_lists_builtins_and_the_plugin_without_importing_them() -> None:
    out = _dubkit("backends", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    names = {(r["kind"], r["name"]): r for r in rows}
    assert ("transcriber", "faster-whisper") in names
    assert ("separator", "demucs") in names
    plugin = names[("synthesizer", "sine-voice")]
    assert plugin["distribution"] == "dubkit-sample-plugin" and plugin["version"] == "0.3.1"
    assert names[("vad", "energy")]["available"] is True


def test_backends_filtered_by_kind_as_a_table() -> None:
    result = runner.invoke(app, ["backends", "translator"])
    assert result.exit_code == 0
    assert "apertium" in result.stdout and "shout" in result.stdout
    assert "espeak-ng" not in result.stdout


def test_unknown_kind_is_rejected() -> None:
    result = runner.invoke(app, ["backends", "teleporter"])
    assert result.exit_code != 0


def test_languages_lists_the_pairs_the_installed_backends_dub_and_who_translates_each() -> None:
    result = runner.invoke(app, ["languages", "--json"])
    assert result.exit_code == 0, result.output
    offer = json.loads(result.stdout)
    assert offer["translator"] == "auto"
    pairs = {(p["source"], p["target"]): p for p in offer["pairs"]}
    assert pairs[("en", "es")]["translator"] == "apertium"  # Debian's apertium-eng-spa
    assert pairs[("en", "es")]["synthesizer"] == "espeak-ng"
    assert ("en", "ja") not in pairs  # nothing installed here translates English into Japanese
    detected = pairs[("auto", "es")]
    assert "en" in detected["sources"] and detected["translator"] is None
    table = runner.invoke(app, ["languages", "--from", "en"])
    assert table.exit_code == 0 and "apertium" in table.stdout and "whisper" not in table.stdout


def test_languages_into_english_from_every_language_whisper_knows() -> None:
    pytest.importorskip("faster_whisper")
    result = runner.invoke(app, ["languages", "--json", "--from", "auto"])
    assert result.exit_code == 0, result.output
    english = next(p for p in json.loads(result.stdout)["pairs"] if p["target"] == "en")
    served = dict(zip(english["sources"], english["translators"], strict=True))
    assert served["ja"] == served["es"] == "whisper-translate" and len(served) >= 90


def test_a_named_translator_offers_only_its_own_pairs() -> None:
    result = runner.invoke(app, ["languages", "--json", "--translator", "apertium"])
    assert result.exit_code == 0, result.output
    pairs = json.loads(result.stdout)["pairs"]
    assert {p["translator"] for p in pairs if p["source"] != "auto"} == {"apertium"}


def test_languages_known_lists_every_language_and_its_codes() -> None:
    result = runner.invoke(app, ["languages", "--known"])
    assert result.exit_code == 0
    assert "spa_Latn" in result.stdout


def test_dub_into_a_pair_no_translator_reaches_fails_before_touching_media_and_says_what_can(
    tmp_path: Path,
) -> None:
    video = tmp_path / "not-even-media.mp4"
    video.write_bytes(b"\x00" * 10)
    args = ["dub", str(video), "--from", "en", "--to", "ja", "--vad", "energy", "--diarizer", "single"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert "no installed translator can translate 'en' -> 'ja'" in result.stderr
    assert "reachable targets from 'en'" in result.stderr and "es" in result.stderr
    assert not (tmp_path / ".dubkit").exists()


def test_dub_with_an_unknown_language_fails_before_touching_media(tmp_path: Path) -> None:
    video = tmp_path / "not-even-media.mp4"
    video.write_bytes(b"\x00" * 10)
    result = runner.invoke(
        app,
        [
            "dub",
            str(video),
            "--to",
            "xx",
            "--vad",
            "energy",
            "--diarizer",
            "single",
            "--synthesizer",
            "sine-voice",
            "--translator",
            "shout",
            "--transcriber",
            "faster-whisper",
        ],
    )
    assert result.exit_code == 2
    assert "language 'xx' is not supported" in result.stderr
    assert not (tmp_path / ".dubkit").exists()


def test_dub_with_an_unknown_backend_lists_the_known_ones(tmp_path: Path) -> None:
    video = tmp_path / "a.mp4"
    video.write_bytes(b"\x00")
    result = runner.invoke(
        app,
        [
            "dub",
            str(video),
            "--to",
            "es",
            "--translator",
            "babelfish",
            "--vad",
            "energy",
            "--diarizer",
            "single",
        ],
    )
    assert result.exit_code == 2
    assert "no translator named 'babelfish'" in result.stderr
    assert "apertium" in result.stderr


def test_parse_options() -> None:
    assert parse_options(["vad.margin_db=9", 'translator.model="x"', "vad.name=plain"]) == {
        "vad": {"margin_db": 9, "name": "plain"},
        "translator": {"model": "x"},
    }
    with pytest.raises(ConfigError):
        parse_options(["margin_db=9"])
    with pytest.raises(ConfigError):
        parse_options(["warp.speed=9"])


@pytest.mark.models
def test_dub_writes_every_output_and_a_summary(tmp_path: Path) -> None:
    from dubkit.testing import make_sample_video

    sample = make_sample_video(
        tmp_path / "talk.mp4", script=(("en+m3", "Hello there, and welcome to the show."),)
    )
    result = runner.invoke(
        app,
        [
            "dub",
            str(sample.path),
            "--to",
            "es",
            "-o",
            str(tmp_path / "out"),
            "--translator",
            "shout",
            "--synthesizer",
            "sine-voice",
            "--diarizer",
            "single",
        ],
    )
    assert result.exit_code == 0, result.stderr
    for suffix in (".mp4", ".srt", ".vtt", ".dub.json"):
        assert (tmp_path / "out" / f"talk.es{suffix}").is_file()
    assert "talk.mp4 -> es" in result.stdout
    assert "segments: 1" in result.stdout
    again = runner.invoke(app, ["redub", str(tmp_path / "out" / "talk.es.dub.json")])
    assert again.exit_code == 0, again.stderr
