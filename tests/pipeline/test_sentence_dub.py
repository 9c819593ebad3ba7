"""A real dub of a sentence said with pauses inside it: one translation unit, its pieces, its edit.

The speech is espeak-ng saying one sentence with two pauses (SSML breaks), transcribed by Whisper base,
translated by Apertium; the voice is the sample plugin's tone synthesizer, whose calls the test counts.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pysubs2
import pytest

from dubkit import DubProject, PipelineConfig, build_pipeline
from dubkit.media.subtitle_layout import SubtitleRules, check_cues
from dubkit.models.media import SubtitleCue
from dubkit.pipeline.keys import SYNTHESIS
from dubkit.testing import SampleVideo, make_sample_video

SCRIPT = (
    (
        "en+m3",
        '<speak>Ask not <break time="500ms"/> what your country can do for you, <break time="550ms"/> '
        "ask what you can do for your country.</speak>",
    ),
    ("en+f4", "Thank you very much."),
)
CONFIG = PipelineConfig(
    vad="energy",
    diarizer="single",
    transcriber="faster-whisper",
    translator="apertium",
    synthesizer="sine-voice",
)


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleVideo:
    return make_sample_video(tmp_path_factory.mktemp("media") / "speech.mp4", script=SCRIPT, pause=1.2)


@pytest.mark.models
def test_a_sentence_cut_by_pauses_is_translated_whole_and_an_edit_of_it_redubs_its_lines(
    tmp_path: Path, sample: SampleVideo
) -> None:
    from dubkit_sample_plugin.voice import SineVoice

    with build_pipeline(CONFIG) as pipeline:
        first = pipeline.run(sample.path, to="es", source_language="en", run_dir=tmp_path / "run")
        project = first.project
        several = [s for s in project.sentences if len(s.segments) > 1]
        assert several, [s.source_text for s in project.segments]  # the pauses cut the sentence
        sentence = several[0]
        assert "your country can do for you" in sentence.source_text.lower()
        lines = {s.id: s for s in project.segments}
        assert " ".join(lines[i].translation for i in sentence.segments) == sentence.translation
        assert all(lines[i].sentence == sentence.id for i in sentence.segments)
        assert "país" in sentence.translation
        placed = project.placed()
        assert all(a[3].end <= b[3].start + 1e-6 for a, b in itertools.pairwise(placed))
        assert first.output is not None
        cues = [
            SubtitleCue(e.start / 1000, e.end / 1000, e.plaintext)
            for e in pysubs2.load(str(first.output.srt))
        ]
        assert cues and check_cues(cues, SubtitleRules(), duration=sample.duration).violations == 0

        exported = first.export(tmp_path / "out")
        edited = DubProject.load(exported.project)
        target = next(s for s in edited.sentences if s.id == sentence.id)
        target.translation = "No preguntes qué puede hacer tu país por ti, pregunta qué puedes hacer tú."
        calls = SineVoice.calls
        second = pipeline.redub(edited)
    redone = {r.name for r in second.reports if not r.cached}
    assert redone == {"translate", "synthesize", "fit", "mix", "mux"}
    after = {s.id: s for s in second.project.segments}
    again = next(s for s in second.project.sentences if s.id == sentence.id)
    assert again.translation == target.translation and again.edited
    assert " ".join(after[i].translation for i in again.segments) == target.translation
    assert not any(after[i].edited for i in again.segments)  # the pieces follow the sentence
    others = [s for s in second.project.segments if s.id not in again.segments]
    assert all(s.translation == lines[s.id].translation for s in others)  # untouched
    synthesis = second.artifacts[SYNTHESIS]
    voiced = [
        c
        for c in (*synthesis.clips, *synthesis.joined, *synthesis.alternatives)
        if c.segment_id in {*again.segments, again.id}
    ]
    changed = {c.text for c in voiced} - {c.text for c in first.artifacts[SYNTHESIS].clips}
    assert SineVoice.calls - calls == len([c for c in voiced if c.text in changed])  # only its lines again
