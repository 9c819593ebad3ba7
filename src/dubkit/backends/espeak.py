"""The ``espeak-ng`` synthesizer: eSpeak NG as a subprocess, about 100 languages, many voice variants.

The text goes to espeak-ng on stdin (``--stdin``), never on the command line, so a text that starts
with ``-`` is spoken, not parsed as an option, and no length limit of argv applies. ``[[`` (espeak's
phoneme-input bracket) is broken up so text is always read as text. Voices are ``<language>+<variant>``
(``es+m3``, ``es+f2``, ...): `EspeakSynthesizer.voices` alternates male and female variants, each
with the gender espeak-ng lists for it, so each diarized speaker gets a voice of its own and of their
register.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import wave
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import attrs

from dubkit.backends.base import BaseSynthesizer
from dubkit.backends.program import find_program, run_program
from dubkit.backends.speakable import has_words
from dubkit.errors import (
    BackendRuntimeError,
    ConfigError,
    UnknownLanguageError,
    UnspeakableTextError,
)
from dubkit.models.languages import get_language
from dubkit.models.media import AudioFile
from dubkit.models.speech import Voice

__all__ = ["VARIANT_ORDER", "EspeakSynthesizer"]

log = logging.getLogger(__name__)

_NAME = "espeak-ng"
_KIND = "synthesizer"
_INSTALL = "apt-get install espeak-ng"
#: Variants in the order speakers get them: male and female in turn, the most distinct first.
VARIANT_ORDER = ("m3", "f2", "m7", "f4", "m1", "f1", "m5", "f3", "m2", "f5", "m4", "m6", "m8")
_MIN_WPM, _MAX_WPM = 80, 450
_VOICE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+\-]*$")
_VOICE_ROW = re.compile(r"^\s*\d+\s+(\S+)\s+\S+\s+(\S+)\s+(\S+)\s*(.*)$")
_VARIANT_ROW = re.compile(r"^\s*\d+\s+\S+\s+\S*/([MF-])\s+(\S+)\s+!v/(\S+)")
_GENDERS = {"M": "male", "F": "female"}
# Two-letter espeak-ng language tags that are not ISO 639-1 codes (py: Pyash, a constructed language).
_NOT_ISO = frozenset({"py"})


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{attribute.name} must be > 0, got {value!r}", field=attribute.name)


def _between(low: int, high: int) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
        if value is not None and not low <= value <= high:
            raise ConfigError(f"{attribute.name} must be {low}-{high}, got {value!r}", field=attribute.name)

    return check


class EspeakSynthesizer(BaseSynthesizer["EspeakSynthesizer.Options"]):
    """Speaks text with espeak-ng into a WAV file (22,050 Hz mono, 16-bit)."""

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            wpm: Words per minute at ``Voice.rate`` 1.0 (espeak-ng's default is 175); the rate used is
                ``wpm * voice.rate``, held within espeak-ng's 80-450.
            pitch: Base pitch 0-99 (espeak-ng's default 50 when ``None``).
            amplitude: Volume 0-200 (espeak-ng's default 100 when ``None``).
            word_gap_ms: Extra pause between words, milliseconds.
            timeout: Seconds one clip may take.
        """

        wpm: int = attrs.field(default=175, validator=_positive)
        pitch: int | None = attrs.field(default=None, validator=_between(0, 99))
        amplitude: int | None = attrs.field(default=None, validator=_between(0, 200))
        word_gap_ms: int = attrs.field(default=0, validator=_between(0, 10_000))
        timeout: float = attrs.field(default=60.0, validator=_positive)

    #: ``synthesize`` calls that may run at once (each is an espeak-ng process of its own, sharing
    #: nothing): the synthesize stage voices this many lines in parallel.
    concurrent_calls = 2

    _languages: dict[str, str] | None = None
    _variants: dict[str, tuple[str, str | None]] | None = None

    def _load(self) -> None:
        self._executable()

    # --- languages and voices --------------------------------------------------------------------

    def languages(self) -> Collection[str]:
        """ISO 639-1 codes of the installed espeak-ng languages (works before ``load()``).

        Raises:
            BackendUnavailableError: espeak-ng is not installed.
        """
        return frozenset(self._language_voices())

    def voices(self, language: str) -> Sequence[Voice]:
        """Distinct voices for ``language``: ``<language>+<variant>``, male and female in turn.

        Raises:
            UnknownLanguageError: espeak-ng does not speak ``language``.
            BackendUnavailableError: espeak-ng is not installed.
        """
        languages = self._language_voices()
        base = languages.get(language)
        if base is None:
            raise UnknownLanguageError(language, sorted(languages), backend=_NAME)
        variants = self._installed_variants()
        ordered = [v for v in VARIANT_ORDER if v in variants] or sorted(variants)
        name = _language_name(language)
        return tuple(
            Voice(
                id=f"{base}+{variant}",
                language=language,
                label=f"{name} {variants[variant][0]}",
                gender=variants[variant][1],
            )
            for variant in ordered
        ) or (Voice(id=base, language=language, label=name),)

    def _language_voices(self) -> dict[str, str]:
        with self._lock:
            if self._languages is None:
                self._languages = _parse_languages(
                    self._run(["--voices"], unit="listing voices").splitlines()
                )
            return self._languages

    def _installed_variants(self) -> dict[str, tuple[str, str | None]]:
        with self._lock:
            if self._variants is None:
                self._variants = _parse_variants(
                    self._run(["--voices=variant"], unit="listing voices").splitlines()
                )
            return self._variants

    # --- the capability --------------------------------------------------------------------------

    def synthesize(self, text: str, voice: Voice, out_path: Path) -> AudioFile:
        """Speak ``text`` with ``voice`` into the WAV file ``out_path`` (written atomically).

        Raises:
            UnspeakableTextError: ``text`` holds no letter or digit (espeak-ng would say nothing).
            ConfigError: ``voice.id`` is not an espeak-ng voice name.
            BackendUnavailableError: espeak-ng is not installed.
            BackendRuntimeError: espeak-ng failed or timed out, or wrote no WAV file.
        """
        if not _VOICE_ID.match(voice.id):
            raise ConfigError(f"{voice.id!r} is not an espeak-ng voice name", field="voice")
        if not has_words(text):
            raise UnspeakableTextError(text, voice.language, "empty", kind=_KIND, name=_NAME)
        opts = self.options
        wpm = min(_MAX_WPM, max(_MIN_WPM, round(opts.wpm * voice.rate)))
        args = ["-v", voice.id, "-s", str(wpm)]
        if opts.pitch is not None:
            args += ["-p", str(opts.pitch)]
        if opts.amplitude is not None:
            args += ["-a", str(opts.amplitude)]
        if opts.word_gap_ms:
            args += ["-g", str(max(1, round(opts.word_gap_ms / 10)))]
        out_path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".wav", dir=out_path.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            self._run([*args, "-w", str(tmp), "--stdin"], stdin=_plain_text(text), unit=voice.id)
            audio = _describe(tmp, out_path)
            os.replace(tmp, out_path)
        finally:
            tmp.unlink(missing_ok=True)
        return audio

    # --- the process -----------------------------------------------------------------------------

    def _executable(self) -> str:
        return find_program("espeak-ng", kind=_KIND, name=_NAME, install=_INSTALL)

    def _run(self, args: list[str], *, unit: str, stdin: str | None = None) -> str:
        return run_program(
            [self._executable(), *args],
            stdin=stdin,
            timeout=self.options.timeout,
            kind=_KIND,
            name=_NAME,
            unit=unit,
        )


def _plain_text(text: str) -> str:
    """Text espeak-ng reads as text: ``[[`` would switch to phoneme input."""
    while "[[" in text:
        text = text.replace("[[", "[ [")
    return text + "\n"


def _describe(path: Path, final: Path) -> AudioFile:
    try:
        with wave.open(str(path), "rb") as wav:
            rate, channels, frames = wav.getframerate(), wav.getnchannels(), wav.getnframes()
    except (OSError, EOFError, wave.Error) as exc:
        raise BackendRuntimeError(f"espeak-ng wrote no readable WAV: {exc}", kind=_KIND, name=_NAME) from exc
    return AudioFile(path=final, sample_rate=rate, channels=channels, duration=frames / rate if rate else 0.0)


def _language_name(code: str) -> str:
    try:
        return get_language(code).name
    except UnknownLanguageError:
        return code


def _parse_languages(lines: Sequence[str]) -> dict[str, str]:
    """ISO 639-1 code -> the ``-v`` name that selects it, from ``espeak-ng --voices``.

    ``en-gb`` and ``(en 2)`` both give ``en``; three-letter codes map through dubkit's language table.
    """
    found: dict[str, str] = {}
    for line in lines[1:]:
        match = _VOICE_ROW.match(line)
        if match is None:
            continue
        tag, file, others = match.group(1), match.group(3), match.group(4)
        if file.startswith("mb/"):  # mbrola voices need mbrola installed
            continue
        for name in [tag, *re.findall(r"\(([^\s)]+) \d+\)", others)]:
            primary = name.split("-")[0].lower()
            code = primary if len(primary) == 2 else _iso1(primary)
            if code is not None and code not in found and code not in _NOT_ISO:
                found[code] = primary
    return found


def _iso1(code: str) -> str | None:
    try:
        return get_language(code).code
    except UnknownLanguageError:
        return None


def _parse_variants(lines: Sequence[str]) -> dict[str, tuple[str, str | None]]:
    """Variant id (``f2``) -> its name (``female2``) and gender, from ``espeak-ng --voices=variant``."""
    variants: dict[str, tuple[str, str | None]] = {}
    for line in lines[1:]:
        match = _VARIANT_ROW.match(line)
        if match is not None:
            variants[match.group(3)] = (match.group(2), _GENDERS.get(match.group(1)))
    return variants
