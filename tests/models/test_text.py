"""Plain-text rules: sentence ends, spacing, stray capitals, fragments joined into a sentence."""

from __future__ import annotations

import pytest

from dubkit.models.text import clean_spacing, ends_sentence, fix_stray_capitals, join_pieces, tidy_translation


@pytest.mark.parametrize(
    ("text", "ends"),
    [
        ("Ask not.", True),
        ("what your country", False),
        ("Really?", True),
        ('He said "stop."', True),
        ("¿Dónde está?", True),
        ("今天天气很好。", True),
        ("and then,", False),
        ("", False),
    ],
)
def test_a_sentence_ends_with_sentence_punctuation(text: str, ends: bool) -> None:
    assert ends_sentence(text) is ends


def test_spacing_is_cleaned() -> None:
    assert clean_spacing(" Hoy  hablamos ,  y\nluego ( sí ) .") == "Hoy hablamos, y luego (sí)."
    assert clean_spacing("¿ Dónde ?") == "¿Dónde?"


def test_a_capital_the_translator_left_in_mid_sentence_is_lowered() -> None:
    # Apertium's own output for "Good morning everyone!"
    assert fix_stray_capitals("Buenos días Todo el mundo!", "Good morning everyone!", "es") == (
        "Buenos días todo el mundo!"
    )
    # After a sentence end a capital is right; words in capitals stay.
    assert fix_stray_capitals("Hola. Todo bien con la NASA.", "Hello. All good with NASA.", "es") == (
        "Hola. Todo bien con la NASA."
    )


def test_a_one_letter_word_in_capitals_is_lowered_outside_english() -> None:
    # Apertium's own output for "Good morning and welcome to the weekly science report."
    assert fix_stray_capitals(
        "Buenos días Y bienvenido al informe.", "Good morning and welcome to the report.", "es"
    ) == ("Buenos días y bienvenido al informe.")
    assert fix_stray_capitals("Bon dia I benvinguts.", "Good morning and welcome.", "ca") == (
        "Bon dia i benvinguts."
    )
    # English "I", an initial, a letter the source has, a capitalising language: kept.
    assert fix_stray_capitals("Then I Left.", "then i left.", "en") == "Then I left."
    assert fix_stray_capitals("Buenos días Y F. bienvenido.", "good morning and f. welcome.", "es") == (
        "Buenos días y F. bienvenido."
    )
    # A name after an initial is a name in mid-sentence: the translation is left alone.
    assert fix_stray_capitals("Habló John F. Kennedy Y.", "John F. Kennedy spoke.", "es") == (
        "Habló John F. Kennedy Y."
    )
    assert fix_stray_capitals("Es el plan B y Otro.", "It is plan B and another.", "es") == (
        "Es el plan B y otro."
    )
    assert fix_stray_capitals("Guten Tag Und A.", "good day and a.", "de") == "Guten Tag Und A."


def test_capitals_are_kept_when_the_source_has_names_or_the_language_capitalises_nouns() -> None:
    kept = "Vi a Juan en Londres."
    assert fix_stray_capitals(kept, "I saw John in London.", "es") == kept
    assert fix_stray_capitals("Das Haus ist Alt.", "the house is old.", "de") == "Das Haus ist Alt."


def test_a_translation_is_tidied() -> None:
    assert tidy_translation(" Hoy  hablamos Sobre el agua .", "Today we talk about water.", "es") == (
        "Hoy hablamos sobre el agua."
    )


def test_fragments_join_into_one_sentence() -> None:
    assert join_pieces(["ask", "Not what your country", "can do for you."], "en") == (
        "ask not what your country can do for you."
    )
    # A capital after a sentence end, a name seen in mid-sentence elsewhere, and "I" are kept.
    assert join_pieces(["We met.", "Then"], "en") == "We met. Then"
    assert join_pieces(["we told Anna", "Anna laughed"], "en") == "we told Anna Anna laughed"
    assert join_pieces(["so", "I said"], "en") == "so I said"
    assert join_pieces(["buenos días", "Y bienvenidos"], "es") == "buenos días y bienvenidos"
    assert join_pieces(["habló John", "F. Kennedy"], "es") == "habló John F. Kennedy"
    assert join_pieces(["你好，", "世界。"], "zh") == "你好，世界。"  # noqa: RUF001
    assert join_pieces(["und dann", "Haus"], "de") == "und dann Haus"
    assert join_pieces(["", "  "], "en") == ""
