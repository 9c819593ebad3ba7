"""Plain-text rules shared by translation and subtitles: sentence ends, spacing, stray capitals.

Pure functions on strings, no language models: they hold for the languages dubkit's backends write
(Latin, Cyrillic, Greek, Arabic, Hebrew, Indic and CJK scripts), and change nothing they cannot judge.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = [
    "CLAUSE_PUNCTUATION",
    "SENTENCE_PUNCTUATION",
    "clean_spacing",
    "ends_sentence",
    "fix_stray_capitals",
    "join_pieces",
    "tidy_translation",
    "writes_spaces",
]

SENTENCE_PUNCTUATION = frozenset(".!?…。！？؟।॥")  # noqa: RUF001
"""Characters that end a sentence (Latin, CJK full-width, Arabic question mark, Devanagari danda)."""
CLAUSE_PUNCTUATION = frozenset(",;:—–、，；：،")  # noqa: RUF001
"""Characters that end a clause: where a sentence splits most naturally after its end."""

_CLOSERS = "\"'”’»)]}›"  # noqa: RUF001
_SPACES = re.compile(r"[ \t\u00a0\u2009\u202f]+")
_SPACE_BEFORE = re.compile(r"\s+([,.;:!?…)\]}»”’%])")  # noqa: RUF001
_SPACE_AFTER_OPENER = re.compile(r"([(\[{«“¿¡])\s+")
_WORD = re.compile(r"\w[\w'’-]*", re.UNICODE)  # noqa: RUF001
# An initial's full stop ("John F. Kennedy"), which does not end a sentence.
_INITIAL_END = re.compile(r"(?:^|[\s(])[A-Z]\.$")
# Scripts written without spaces between words: text in them is split between characters.
_UNSPACED_LANGUAGES = frozenset({"ja", "zh", "th", "lo", "km", "my", "bo", "yue"})


def writes_spaces(language: str) -> bool:
    """Whether ``language`` (ISO 639-1) puts spaces between words."""
    return language not in _UNSPACED_LANGUAGES


def ends_sentence(text: str) -> bool:
    """Whether ``text`` ends with sentence-final punctuation (closing quotes and brackets skipped)."""
    stripped = text.rstrip().rstrip(_CLOSERS)
    return bool(stripped) and stripped[-1] in SENTENCE_PUNCTUATION


def clean_spacing(text: str) -> str:
    """One space between words; none before closing punctuation or after an opening one; no line breaks.

    ``"Hoy  hablamos ,  y"`` -> ``"Hoy hablamos, y"``. Text in scripts without spaces is left as it is
    apart from collapsing runs of spaces.
    """
    flat = _SPACES.sub(" ", " ".join(text.split()))
    flat = _SPACE_BEFORE.sub(r"\1", flat)
    return _SPACE_AFTER_OPENER.sub(r"\1", flat).strip()


def _is_title(word: str) -> bool:
    return len(word) > 1 and word[0].isupper() and word[1:].islower()


def _single_capitals(language: str) -> bool:
    """Whether a one-letter word in capitals is a stray capital in ``language``.

    Spanish "Y", "A", "O", "E", "U", Catalan "I", Portuguese "A", "O", Italian "E" are words written in
    lower case in mid-sentence; English "I" is the one written in capitals.
    """
    return language != "en" and language not in _CAPITALISED_NOUNS


def _is_stray_candidate(text: str, match: re.Match[str], singles: bool) -> bool:
    word = match.group(0)
    if _is_title(word):
        return True
    # A one-letter capital followed by a full stop is an initial ("John F. Kennedy"), never stray.
    return singles and len(word) == 1 and word.isupper() and not text[match.end() :].startswith(".")


def _mid_sentence_titles(text: str, *, singles: bool = False) -> list[re.Match[str]]:
    """Words with a capital first letter that neither start the text nor follow a sentence end.

    With ``singles``, one-letter words in capitals count too (see `_single_capitals`).
    """
    out = []
    for match in _WORD.finditer(text):
        before = text[: match.start()].rstrip().rstrip(_CLOSERS + "\"'“‘«¿¡(")  # noqa: RUF001
        if not before or before[-1] in ":\n":
            continue
        if before[-1] in SENTENCE_PUNCTUATION and not _INITIAL_END.search(before):
            continue
        if _is_stray_candidate(text, match, singles):
            out.append(match)
    return out


def fix_stray_capitals(text: str, source: str, language: str) -> str:
    """Lower-case capitals a translator left in mid-sentence, when the source shows none were meant.

    Rule-based translators keep a capital from a dictionary entry or from the start of the fragment they
    were given (``"Good morning everyone!"`` -> ``"Buenos días Todo el mundo!"``, ``"Good morning and
    welcome"`` -> ``"Buenos días Y bienvenido"``: one-letter words count outside English, where "I" is
    written in capitals, and an initial followed by a full stop never does). When the source has no
    capitalised word in mid-sentence (so no name), every capitalised mid-sentence word of the translation
    is lower-cased; when it has some, the translation is left alone (a name may have been translated,
    ``London`` -> ``Londres``). Words in capitals (``NASA``) are never touched, nor text in a language
    that capitalises its nouns (``language``: German, Luxembourgish).
    """
    if language in _CAPITALISED_NOUNS or _mid_sentence_titles(source):
        return text
    stray = _mid_sentence_titles(text, singles=_single_capitals(language))
    if not stray:
        return text
    letters = {w for w in _WORD.findall(source) if len(w) == 1 and w.isupper()}  # "plan B" keeps its B
    out = list(text)
    for match in stray:
        word = match.group(0)
        if word.casefold() in _ALWAYS_CAPITAL or word in letters:
            continue
        out[match.start()] = word[0].lower()
    return "".join(out)


# Languages that capitalise every noun.
_CAPITALISED_NOUNS = frozenset({"de", "lb"})
# Words some languages always capitalise mid-sentence (English "I" is one letter, so never matched).
_ALWAYS_CAPITAL = frozenset({"i'm", "i've", "i'll", "i'd"})


def tidy_translation(text: str, source: str, language: str) -> str:
    """A translator's output (in ``language``) with clean spacing and without stray capitals.

    See `clean_spacing` and `fix_stray_capitals`; ``source`` is the text it translates.
    """
    return fix_stray_capitals(clean_spacing(text), source, language)


def join_pieces(pieces: list[str], language: str) -> str:
    """Consecutive fragments of one sentence as one text.

    A fragment that starts with a capitalised word after a fragment that did not end a sentence is
    lower-cased when that word is not capitalised anywhere else in mid-sentence (a transcriber often
    capitalises the first word after a pause), and so is a one-letter word outside English (Spanish
    "Y"); English ``I``, initials, words in capitals and the nouns of languages that capitalise them
    (German) are kept.
    """
    cleaned = [clean_spacing(p) for p in pieces if p.strip()]
    if not cleaned:
        return ""
    glue = " " if writes_spaces(language) else ""
    names = {m.group(0) for piece in cleaned for m in _mid_sentence_titles(piece)}
    out = [cleaned[0]]
    for piece in cleaned[1:]:
        first = _WORD.match(piece)
        if (
            language not in _CAPITALISED_NOUNS
            and first is not None
            and not ends_sentence(out[-1])
            and _is_stray_candidate(piece, first, _single_capitals(language))
            and first.group(0) not in names
            and unicodedata.category(piece[0]).startswith("L")
        ):
            out.append(piece[0].lower() + piece[1:])
        else:
            out.append(piece)
    return glue.join(out)
