"""Edits to a dub project between re-dubs: checked one change at a time, applied to the project re-dubbed."""

from __future__ import annotations

import re

import pytest

from dubkit.errors import ConfigError, SegmentNotFoundError
from dubkit.models.project import (
    DubProject,
    ProjectSegment,
    ProjectSentence,
    ProjectSpeaker,
    ProjectVoice,
    SourceMedia,
)
from dubkit.models.project_edits import (
    MAX_LINE_CHARS,
    LineChange,
    ProjectEdits,
    affected_lines,
    apply_change,
    check_text,
    edited_project,
    prune_edits,
)
from dubkit.models.speech import Voice

VOICES = [Voice("es+m3", "es", label="Spanish m3"), Voice("es+f2", "es", rate=1.1, label="Spanish f2")]


def project() -> DubProject:
    """Four lines: seg-1 alone, seg-2..seg-4 one sentence of three lines; two speakers."""

    def line(i: int, speaker: str, sentence: str, text: str) -> ProjectSegment:
        return ProjectSegment(
            id=f"seg-{i}",
            start=2.0 * i,
            end=2.0 * i + 1.5,
            speaker=speaker,
            source_text=f"line {i}",
            translation=text,
            machine_translation=text,
            candidates=[text],
            sentence=sentence,
        )

    return DubProject(
        dubkit_version="test",
        source=SourceMedia(path="/in.mp4", sha256="0" * 64, duration=10.0, has_video=True),
        source_language="en",
        target_language="es",
        speakers=[
            ProjectSpeaker(id="A", voice=ProjectVoice(id="es+m3", language="es", label="Spanish m3")),
            ProjectSpeaker(id="B", voice=ProjectVoice(id="es+m3", language="es", label="Spanish m3")),
        ],
        segments=[
            line(1, "A", "seg-1", "HOLA"),
            line(2, "B", "seg-2..seg-4", "UNO"),
            line(3, "B", "seg-2..seg-4", "DOS"),
            line(4, "B", "seg-2..seg-4", "TRES"),
        ],
        sentences=[
            ProjectSentence(
                id="seg-1",
                segments=["seg-1"],
                start=2,
                end=3.5,
                speaker="A",
                source_text="line 1",
                translation="HOLA",
                machine_translation="HOLA",
                candidates=["HOLA", "BUENAS"],
            ),
            ProjectSentence(
                id="seg-2..seg-4",
                segments=["seg-2", "seg-3", "seg-4"],
                start=4,
                end=9.5,
                speaker="B",
                source_text="line 2 line 3 line 4",
                translation="UNO DOS TRES",
                machine_translation="UNO DOS TRES",
            ),
        ],
    )


def change(edits: ProjectEdits, segment_id: str, **fields: object) -> ProjectEdits:
    return apply_change(project(), edits, segment_id, LineChange.model_validate(fields), VOICES)


def test_a_line_edit_is_kept_stripped_and_applied_to_its_one_line_sentence_too() -> None:
    edits = change(ProjectEdits(), "seg-1", translation="  BUENOS DÍAS  ")
    assert edits.translations == {"seg-1": "BUENOS DÍAS"}
    out = edited_project(project(), edits, VOICES)
    assert out.segments[0].translation == "BUENOS DÍAS" and out.segments[0].edited
    assert out.sentences[0].translation == "BUENOS DÍAS"
    assert out.translation_edits() == {"seg-1": "BUENOS DÍAS"}
    assert affected_lines(project(), edits) == ["seg-1"]


def test_a_sentence_edit_drops_its_lines_own_edits_and_a_later_line_edit_wins() -> None:
    edits = change(ProjectEdits(), "seg-3", translation="DOS Y MEDIO")
    edits = change(edits, "seg-3", sentence_translation="UNO, DOS Y TRES")
    assert edits.translations == {} and edits.sentence_translations == {"seg-2..seg-4": "UNO, DOS Y TRES"}
    assert affected_lines(project(), edits) == ["seg-2", "seg-3", "seg-4"]
    later = change(edits, "seg-4", translation="TRES.")
    out = edited_project(project(), later, VOICES)
    assert out.sentences[1].translation == "UNO, DOS Y TRES"
    assert out.translation_edits() == {"seg-2..seg-4": "UNO, DOS Y TRES", "seg-4": "TRES."}
    # an earlier re-dub's piece edit in the project goes too: the whole sentence is split again
    old = project()
    old.segments[2].translation = "DOS Y MEDIO"
    again = edited_project(old, edits, VOICES)
    assert [s.translation for s in again.segments[1:]] == ["UNO", "DOS", "TRES"]


def test_a_voice_is_one_the_synthesizer_offers_and_applies_to_the_speaker() -> None:
    edits = change(ProjectEdits(), "seg-3", voice="es+f2")
    assert edits.voices == {"B": "es+f2"}
    assert affected_lines(project(), edits) == ["seg-2", "seg-3", "seg-4"]
    speaker = edited_project(project(), edits, VOICES).speakers[1]
    assert speaker.voice == ProjectVoice(id="es+f2", language="es", rate=1.1, label="Spanish f2")
    with pytest.raises(ConfigError, match="es\\+zz") as refused:
        change(ProjectEdits(), "seg-3", voice="es+zz")
    assert refused.value.field == "voice" and "es+f2" in (refused.value.hint or "")


def test_keeping_the_original_speech_marks_the_line() -> None:
    edits = change(ProjectEdits(), "seg-2", keep_original=True)
    out = edited_project(project(), edits, VOICES)
    assert out.kept_original() == ["seg-2"]
    assert change(ProjectEdits(), "seg-2", keep_original=False).empty  # what the project says already


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"translation": "A" * (MAX_LINE_CHARS + 1)}, "translation", f"{MAX_LINE_CHARS + 1} characters"),
        ({"translation": "HOLA\nMUNDO"}, "translation", "U+000A at position 5"),
        ({"translation": "HOLA\u2028MUNDO"}, "translation", "U+2028"),
        ({"sentence_translation": "\u202eABC"}, "sentence_translation", "U+202E"),
        ({}, "body", "empty"),
    ],
)
def test_bad_changes_are_refused_with_what_to_fix(fields: dict[str, str], field: str, words: str) -> None:
    before = ProjectEdits(translations={"seg-1": "X"})
    with pytest.raises(ConfigError, match=re.escape(words)) as refused:
        change(before, "seg-1", **fields)
    assert refused.value.field == field
    assert before.translations == {"seg-1": "X"}  # left as it was


def test_an_unknown_line_is_not_found() -> None:
    with pytest.raises(SegmentNotFoundError) as missing:
        change(ProjectEdits(), "seg-9", translation="HOLA")
    assert missing.value.segment_id == "seg-9"


def test_emoji_and_joiners_are_text() -> None:
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # a zero-width non-joiner inside a word
    text = f"¡Hola 👋🏽! {persian}"
    assert check_text(text, field="translation", limit=50) == text


def test_edits_a_redub_applied_are_pruned() -> None:
    edits = ProjectEdits(
        translations={"seg-1": "HOLA", "seg-9": "X"}, voices={"A": "es+m3"}, keep_original={"seg-2": False}
    )
    assert prune_edits(project(), edits).empty
