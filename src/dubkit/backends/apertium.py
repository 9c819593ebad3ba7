"""The ``apertium`` translator: rule-based translation with Debian's ``apertium`` and its language pairs.

Every call runs ONE ``apertium`` process (about 0.12 s to start) for all its lines: each line is a
paragraph of its own (a blank line between lines), which Apertium's text format closes as a sentence,
so no transfer rule reaches across lines and the blank lines come back unchanged. (``-f line`` would
fit better but drops a line's final period in the Apertium shipped by Debian 12.)

Apertium marks words it does not know with ``*`` (and words missing from the bilingual dictionary
with ``@``); they are reported as `TranslationCandidate.untranslated` and the marks are removed
from the text. ``#`` (a word translated but not inflected) is removed silently.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

import attrs

from dubkit.backends.apertium_packages import apertium_install_hint
from dubkit.backends.base import BaseTranslator
from dubkit.backends.program import find_program, run_program
from dubkit.backends.protocols import TranslationCandidate
from dubkit.errors import (
    ConfigError,
    UnknownLanguageError,
    UnsupportedLanguagePairError,
)
from dubkit.models.languages import get_language

__all__ = ["ApertiumTranslator"]

log = logging.getLogger(__name__)

_NAME = "apertium"
_KIND = "translator"
_INSTALL = "apt-get install apertium apertium-eng-spa (or another apertium-<src>-<tgt> pair)"
_SEPARATOR = "\n\n"
_MARK = re.compile(r"(?<!\w)([*@#])(\w+(?:['\u2019-]\w+)*)")
_UNTRANSLATED = ("*", "@")
_TRAILING_HASH = re.compile(r"(?<=\w)#(?!\w)")


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{attribute.name} must be > 0, got {value!r}", field=attribute.name)


def _optional_path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value).expanduser()


class ApertiumTranslator(BaseTranslator["ApertiumTranslator.Options"]):
    """Translates with an installed Apertium pair; one process per call; reports unknown words."""

    @attrs.frozen
    class Options:
        """Options.

        Attributes:
            data_dir: Apertium's data folder (``-d``); default: the system's (``/usr/share/apertium``).
                Trusted configuration only: Apertium runs the mode files it finds there.
            timeout: Seconds one call may take (all its lines together).
        """

        data_dir: Path | None = attrs.field(default=None, converter=_optional_path)
        timeout: float = attrs.field(default=120.0, validator=_positive)

    #: Lines the translate stage sends per call: each call starts an Apertium pipeline of several
    #: processes (~0.13 s), while a line costs about a millisecond.
    batch_lines = 512

    _modes: dict[tuple[str, str], str] | None = None

    def _load(self) -> None:
        self._executable()

    # --- languages -------------------------------------------------------------------------------

    def language_pairs(self) -> Collection[tuple[str, str]]:
        """The installed pairs as ISO 639-1 ``(source, target)`` tuples (works before ``load()``).

        Raises:
            BackendUnavailableError: apertium is not installed.
        """
        return frozenset(self._installed_modes())

    def _installed_modes(self) -> dict[tuple[str, str], str]:
        with self._lock:
            if self._modes is None:
                self._modes = _parse_modes(self._run(["-l"], "", unit="listing pairs").splitlines())
            return self._modes

    # --- the capability --------------------------------------------------------------------------

    def translate(
        self, texts: Sequence[str], source: str, target: str, n_best: int
    ) -> Sequence[Sequence[str | TranslationCandidate]]:
        """Translate every text; one candidate each (Apertium has no n-best), with its unknown words.

        Args:
            texts: Lines to translate; whitespace inside a line (newlines included) becomes one space.
            source: ISO 639-1 code.
            target: ISO 639-1 code.
            n_best: Ignored beyond 1: Apertium gives a single translation.

        Raises:
            UnsupportedLanguagePairError: no installed pair translates ``source`` to ``target``.
            BackendUnavailableError: apertium is not installed.
            BackendRuntimeError: apertium failed or timed out.
        """
        modes = self._installed_modes()
        mode = modes.get((source, target))
        if mode is None:
            raise UnsupportedLanguagePairError(
                source,
                target,
                _NAME,
                [f"{s}-{t}" for s, t in modes],
                install=apertium_install_hint(source, target),
            )
        lines = [" ".join(text.split()) for text in texts]
        wanted = [i for i, line in enumerate(lines) if line]
        outputs = self._translate_lines([lines[i] for i in wanted], mode)
        results: list[Sequence[str | TranslationCandidate]] = [[TranslationCandidate("")] for _ in lines]
        for i, output in zip(wanted, outputs, strict=True):
            results[i] = [_candidate(lines[i], output)]
        return results

    def _translate_lines(self, lines: list[str], mode: str) -> list[str]:
        if not lines:
            return []
        output = self._run(["-f", "txt", mode], _SEPARATOR.join(lines) + "\n", unit=f"{len(lines)} line(s)")
        parts = output.strip("\n").split(_SEPARATOR)
        if len(parts) == len(lines):
            return [part.strip() for part in parts]
        log.warning(
            "apertium returned %d paragraphs for %d lines; translating them one by one",
            len(parts),
            len(lines),
        )
        return [self._run(["-f", "txt", mode], line + "\n", unit=line[:40]).strip() for line in lines]

    # --- the process -----------------------------------------------------------------------------

    def _executable(self) -> str:
        return find_program("apertium", kind=_KIND, name=_NAME, install=_INSTALL)

    def _run(self, args: list[str], text: str, *, unit: str) -> str:
        argv = [self._executable()]
        if self.options.data_dir is not None:
            argv += ["-d", str(self.options.data_dir)]
        return run_program(
            [*argv, *args], stdin=text, timeout=self.options.timeout, kind=_KIND, name=_NAME, unit=unit
        )


# ISO 639-3 codes Apertium uses that dubkit files under another code (languages within a macrolanguage).
_ALIASES = {"zlm": "ms", "zsm": "ms", "nor": "nb", "arb": "ar", "pes": "fa", "cmn": "zh"}
# Serbo-Croatian: its variants are dubkit's languages; the plain code reads (and writes) both.
_MACRO = {"hbs": ("hr", "sr")}
_MACRO_VARIANTS = {("hbs", "HR"): "hr", ("hbs", "SR"): "sr"}


def _side(name: str) -> list[tuple[str, int]]:
    """The dubkit languages one side of a mode name stands for, each with a rank (0 = an exact match).

    ``eng`` -> ``[("en", 0)]``; ``eng_US`` -> ``[("en", 1)]`` (a variant); ``hbs_HR`` -> ``[("hr", 0)]``;
    ``hbs`` -> ``[("hr", 1), ("sr", 1)]``; a language dubkit does not know -> ``[]``.
    """
    base, _, variant = name.partition("_")
    base = base.lower()
    if (base, variant) in _MACRO_VARIANTS:
        return [(_MACRO_VARIANTS[(base, variant)], 0)]
    if base in _MACRO:
        return [(code, 1 + bool(variant)) for code in _MACRO[base]]
    try:
        code = get_language(_ALIASES.get(base, base)).code
    except UnknownLanguageError:
        return []
    return [(code, 1 if variant else 0)]


def _parse_modes(lines: Sequence[str]) -> dict[tuple[str, str], str]:
    """``eng-spa``, ``spa-eng_US``, ``en-gl``, ``hbs-eng`` ... -> ``{("en", "es"): "eng-spa", ...}``.

    Mode names mix ISO 639-3 (``eng-spa``) and ISO 639-1 (``en-gl``, ``eo-en``) codes, with variants after
    an underscore (``spa-cat_valencia``, ``eng-hbs_HR``). A variant is used only when its pair has no plain
    mode (``hbs_HR`` counts as plain Croatian); modes of languages dubkit does not know, and debugging or
    multi-step modes (``eng-spa-tagger``, ``en-eo-bytecode``), are left out.
    """
    modes: dict[tuple[str, str], tuple[int, str]] = {}
    for line in lines:
        mode = line.strip()
        names = mode.split("-")
        if len(names) != 2 or not all(names):
            continue
        for source, source_rank in _side(names[0]):
            for target, target_rank in _side(names[1]):
                if source == target:
                    continue
                rank = (source_rank + target_rank, mode)
                if (source, target) not in modes or rank < modes[(source, target)]:
                    modes[(source, target)] = rank
    return {pair: mode for pair, (_, mode) in sorted(modes.items())}


def _candidate(source: str, output: str) -> TranslationCandidate:
    """The output without Apertium's marks, and the words it marked untranslated.

    A mark is removed unless the source itself has the marked token (``*word``, ``@user``). An unknown
    word comes through unchanged, so a ``*``/``@`` word is reported untranslated only when it is in the
    source (``@`` may mark a lemma the bilingual dictionary lacks). A ``#`` after a word (a generation
    mark) goes too when the source has no ``#``; spacing is normalised.
    """
    untranslated: list[str] = []

    def unmark(match: re.Match[str]) -> str:
        mark, word = match.group(1), match.group(2)
        if re.search(rf"(?<!\w){re.escape(match.group(0))}(?!\w)", source):
            return match.group(0)  # the source itself says "*word" or "@word"
        if mark in _UNTRANSLATED and re.search(
            rf"(?<!\w){re.escape(word)}(?!\w)", source, flags=re.IGNORECASE
        ):
            untranslated.append(word)
        return word

    text = _MARK.sub(unmark, output)
    if "#" not in source:
        text = _TRAILING_HASH.sub("", text)  # "danas#." : a generation mark after the word
    return TranslationCandidate(text=" ".join(text.split()), untranslated=tuple(dict.fromkeys(untranslated)))
