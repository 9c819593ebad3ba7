"""Subtitle cues by the usual rules: 42 characters a line, two lines, at least a second, readable."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from dubkit.media.subtitle_layout import SpokenText, SubtitleRules, check_cues, layout_cues
from dubkit.models.media import SubtitleCue

RULES = SubtitleRules()


def test_a_short_line_is_one_cue_on_one_line() -> None:
    cues = layout_cues([SpokenText(1.0, 3.0, "Hola  a todos .")], "es")
    assert cues == [SubtitleCue(1.0, 3.0, "Hola a todos.")]


def test_a_long_line_is_broken_in_two_balanced_lines_at_punctuation() -> None:
    text = "Hoy hablamos del ciclo del agua, que mueve la lluvia sobre el planeta."
    (cue,) = layout_cues([SpokenText(0.0, 5.0, text)], "es")
    top, bottom = cue.text.split("\n")
    assert top == "Hoy hablamos del ciclo del agua,"
    assert bottom == "que mueve la lluvia sobre el planeta."


def test_a_text_too_long_for_one_cue_is_cut_into_several_at_punctuation() -> None:
    text = (
        "El sol calienta el océano y el agua sube al cielo. Luego las nubes llevan la lluvia sobre las "
        "montañas, y los ríos devuelven el agua al mar al final del día."
    )
    cues = layout_cues([SpokenText(0.0, 9.0, text)], "es", duration=20.0)
    ends = ["cielo.", "montañas,", "día."]  # each cue ends at punctuation
    assert all(c.text.endswith(end) for c, end in zip(cues, ends, strict=True))
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))
    assert check_cues(cues, RULES, duration=20.0).violations == 0


def test_a_fragment_too_short_to_read_is_held_or_merged() -> None:
    spoken = [SpokenText(2.0, 2.3, "Pide"), SpokenText(2.5, 2.9, "no lo que"), SpokenText(6.0, 8.0, "Vale.")]
    cues = layout_cues(spoken, "es", duration=10.0)
    assert [c.text for c in cues] == ["Pide no lo que", "Vale."]
    assert cues[0].end - cues[0].start >= 1.0
    assert check_cues(cues, RULES, duration=10.0).violations == 0


def test_reading_speed_holds_a_cue_into_the_silence_after_it() -> None:
    text = "Un texto bastante largo que se dice muy deprisa."  # 48 characters in 1 s
    (cue,) = layout_cues([SpokenText(1.0, 2.0, text)], "es", duration=10.0)
    assert cue.start >= 0.5 and len(text) / (cue.end - cue.start) <= 20.0 + 1e-6


def test_cues_never_overlap_and_stay_within_the_media() -> None:
    spoken = [
        SpokenText(0.0, 2.0, "uno dos tres"),
        SpokenText(1.5, 3.0, "cuatro cinco"),
        SpokenText(9.5, 9.8, "fin"),
    ]
    cues = layout_cues(spoken, "es", duration=10.0)
    assert all(a.end <= b.start for a, b in itertools.pairwise(cues))
    assert cues[-1].end <= 10.0


def test_a_boxed_in_cue_is_excused_only_when_the_timing_leaves_no_room() -> None:
    long = "x" * 40 + "\n" + "x" * 40
    boxed = [SubtitleCue(0.0, 1.0, long), SubtitleCue(1.08, 1.5, long), SubtitleCue(1.58, 3.0, long)]
    check = check_cues(boxed, RULES)
    assert (check.too_short, check.too_fast, check.excused) == (1, 3, 3)
    assert check.violations == 1  # only the last cue had room (the silence after it) to be read slower
    roomy = [SubtitleCue(0.0, 0.5, "Hola."), SubtitleCue(5.0, 6.0, "Adiós.")]
    assert check_cues(roomy, RULES).violations == 1


def test_scripts_without_spaces_get_shorter_lines() -> None:
    (cue,) = layout_cues([SpokenText(0.0, 4.0, "你好，世界。今天天气很好，我们去公园散步吧。")], "zh")  # noqa: RUF001
    assert all(len(line) <= 16 for line in cue.text.split("\n"))


_WORDS = st.text(alphabet="abcdefghij", min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(
        st.tuples(
            st.floats(min_value=0.05, max_value=3.0),  # pause before
            st.floats(min_value=0.2, max_value=8.0),  # length
            st.floats(min_value=6.0, max_value=25.0),  # speaking rate, characters a second
            st.lists(_WORDS, min_size=40, max_size=40),
            st.sampled_from(["", ",", "."]),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_every_cue_keeps_the_rules_where_the_timing_allows(
    items: list[tuple[float, float, float, list[str], str]],
) -> None:
    spoken, cursor = [], 0.0
    for pause, length, rate, words, mark in items:
        cursor += pause
        text = " ".join(words)[: max(1, round(rate * length))].strip()
        spoken.append(SpokenText(cursor, cursor + length, text + mark))
        cursor += length
    duration = cursor + 1.0
    cues = layout_cues(spoken, "en", duration=duration)
    check = check_cues(cues, RULES, duration=duration)
    assert (check.long_lines, check.too_many_lines, check.violations) == (0, 0, 0)
    assert all(a.end <= b.start + 1e-9 for a, b in itertools.pairwise(cues))
