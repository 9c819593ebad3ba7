"""The dub project: a versioned, editable JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dubkit.errors import ConfigError
from dubkit.models.project import DubProject, ProjectSegment, ProjectSpeaker, ProjectVoice, SourceMedia


def _project() -> DubProject:
    return DubProject(
        dubkit_version="0.1.0",
        source=SourceMedia(path="/tmp/a.mp4", sha256="0" * 64, duration=10.0, has_video=True),
        source_language="en",
        target_language="es",
        speakers=[ProjectSpeaker(id="SPEAKER_00", voice=ProjectVoice(id="es+m3", language="es"))],
        segments=[
            ProjectSegment(
                id="seg-0001",
                start=0.5,
                end=2.0,
                speaker="SPEAKER_00",
                source_text="Hello",
                translation="Hola",
                machine_translation="Hola",
            ),
            ProjectSegment(
                id="seg-0002",
                start=3.0,
                end=4.0,
                speaker="SPEAKER_00",
                source_text="Bye",
                translation="Adiós",
                machine_translation="Adiós",
            ),
        ],
    )


def test_round_trip_and_edits(tmp_path: Path) -> None:
    project = _project()
    path = project.save(tmp_path / "p.dub.json")
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1
    data["segments"][1]["translation"] = "Hasta luego"
    path.write_text(json.dumps(data))
    loaded = DubProject.load(path)
    assert loaded.translation_edits() == {"seg-0002": "Hasta luego"}
    assert loaded.voice_edits()["SPEAKER_00"].id == "es+m3"


def test_invalid_files_are_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        DubProject.load(bad)
    data = json.loads(_project().dumps())
    data["schema_version"] = 99
    bad.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="not a valid dub project"):
        DubProject.load(bad)
    data["schema_version"] = 1
    data["surprise"] = True
    bad.write_text(json.dumps(data))
    with pytest.raises(ConfigError):
        DubProject.load(bad)


def test_a_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        DubProject.load(tmp_path / "missing.dub.json")


def test_save_is_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    _project().save(tmp_path / "p.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]
