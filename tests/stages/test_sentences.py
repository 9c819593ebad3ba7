"""Sentence units: lines grouped into sentences, and a translated sentence cut back into its lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dubkit.models.speech import TranscriptSegment
from dubkit.models.text import clean_spacing
from dubkit.stages.sentences import SentenceOptions, group_sentences, sentence_id, split_translation


def _line(number: int, start: float, end: float, text: str, speaker: str = "SPEAKER_00") -> TranscriptSegment:
    return TranscriptSegment(id=f"seg-{number:04d}", start=start, end=end, text=text, speaker=speaker)


def test_fragments_cut_at_short_pauses_form_one_sentence() -> None:
    lines = [
        _line(1, 0.0, 0.4, "Ask"),
        _line(2, 0.9, 1.4, "not what"),
        _line(3, 1.9, 3.6, "your country can do for you."),
        _line(4, 4.0, 5.0, "Thank you."),
    ]
    units = group_sentences(lines, "en")
    assert [u.id for u in units] == ["seg-0001..seg-0003", "seg-0004"]
    assert units[0].text == "Ask not what your country can do for you."
    assert units[0].segment_ids == ("seg-0001", "seg-0002", "seg-0003")
    assert (units[0].start, units[0].end, units[0].speaker) == (0.0, 3.6, "SPEAKER_00")
    weights = units[0].weights
    assert abs(sum(weights) - 1) < 1e-9 and weights[2] > weights[1] > weights[0]


def test_a_sentence_ends_at_punctuation_a_long_pause_another_speaker_or_its_limits() -> None:
    lines = [
        _line(1, 0.0, 1.0, "one"),
        _line(2, 2.5, 3.0, "two"),  # 1.5 s pause
        _line(3, 3.2, 4.0, "three", speaker="SPEAKER_01"),
        _line(4, 4.1, 5.0, "four"),
        _line(5, 5.1, 6.0, "five,"),
        _line(6, 6.1, 7.0, "six"),
    ]
    units = group_sentences(lines, "en", SentenceOptions(max_pause=0.8, max_lines=2))
    assert [u.segment_ids for u in units] == [
        ("seg-0001",),
        ("seg-0002",),
        ("seg-0003",),
        ("seg-0004", "seg-0005"),
        ("seg-0006",),
    ]
    seconds = group_sentences(lines[3:], "en", SentenceOptions(max_seconds=2.0))
    assert [u.segment_ids for u in seconds] == [("seg-0004", "seg-0005"), ("seg-0006",)]


def test_sentence_ids() -> None:
    assert sentence_id(["seg-0007"]) == "seg-0007"
    assert sentence_id(["seg-0007", "seg-0008", "seg-0009"]) == "seg-0007..seg-0009"


def test_a_translation_is_cut_in_proportion_preferring_punctuation() -> None:
    text = "No preguntes qué puede hacer tu país por ti, pregunta qué puedes hacer tú por tu país."
    halves = split_translation(text, [0.5, 0.5], "es")
    assert halves == [
        "No preguntes qué puede hacer tu país por ti,",
        "pregunta qué puedes hacer tú por tu país.",
    ]
    thirds = split_translation("Pide no qué vuestro país puede hacer para ti.", [0.1, 0.2, 0.7], "es")
    assert " ".join(thirds) == "Pide no qué vuestro país puede hacer para ti."
    assert all(thirds) and len(thirds[2]) > len(thirds[0])


def test_scripts_without_spaces_are_cut_between_characters() -> None:
    pieces = split_translation("你好，世界。今天天气很好。", [0.5, 0.5], "zh")  # noqa: RUF001
    assert pieces == ["你好，世界。", "今天天气很好。"]  # noqa: RUF001


def test_fewer_words_than_lines_leave_the_last_lines_empty() -> None:
    assert split_translation("Sí.", [0.3, 0.3, 0.4], "es") == ["Sí.", "", ""]
    assert split_translation("", [1.0, 1.0], "es") == ["", ""]
    assert split_translation("Hola amigo", [1.0], "es") == ["Hola amigo"]


@given(
    words=st.lists(st.text(alphabet="abcdefgh,.", min_size=1, max_size=9), min_size=1, max_size=30),
    weights=st.lists(st.floats(min_value=0.01, max_value=5.0), min_size=1, max_size=8),
)
def test_the_pieces_give_the_sentence_back(words: list[str], weights: list[float]) -> None:
    text = clean_spacing(" ".join(words))
    pieces = split_translation(text, weights, "en")
    assert len(pieces) == len(weights)
    assert " ".join(p for p in pieces if p) == text
    if len(text.split()) >= len(weights):
        assert all(pieces)


def test_a_short_fragment_closed_by_a_full_stop_still_joins_the_next_line() -> None:
    # What Whisper writes for "Ask not <pause> what your country can do for you" cut at the pause.
    lines = [
        _line(1, 0.0, 0.4, "ask not."),
        _line(2, 0.9, 2.5, "What your country can do for you."),
        _line(3, 3.0, 4.7, "Ask what you can do for your country."),  # a whole sentence before it
        _line(4, 5.0, 5.3, "Stop!"),  # only a full stop is taken for a fragment's
        _line(5, 5.5, 6.0, "Look."),
        _line(6, 6.2, 7.0, "then we left."),  # lower case: the stop before it closed nothing
    ]
    units = group_sentences(lines, "en")
    assert [u.text for u in units] == [
        "ask not what your country can do for you.",
        "Ask what you can do for your country.",
        "Stop!",
        "Look then we left.",
    ]
