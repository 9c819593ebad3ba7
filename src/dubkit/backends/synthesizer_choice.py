"""Which synthesizer voices a dub when none is named: the most natural one installed for the language.

`NATURAL_ORDER` ranks the built-in synthesizers by how natural they sound (measured: Whisper base
hearing 12 sentences back, lower word error rate first; see docs/guide.md):

| target | Kokoro-82M | Piper en_US-joe | espeak-ng |
|---|---|---|---|
| Spanish | 3.1-19.4% by voice | (English only) | 52.7% |
| English | 3.3-9.1% by voice | 4.1% | 14.0% |

Kokoro leads where it speaks (en, es, fr, it, pt, hi, ja, zh): in English it is as clear as Piper's
one voice and has voices of both registers for different speakers; Piper follows it (about a sixth of
the processor time, one male voice); espeak-ng speaks about 100 languages and is the fallback.

The synthesizer value ``auto`` (the default) means: every available synthesizer of `NATURAL_ORDER`,
each target language voiced by the first that speaks it, its lines falling back to the next ones.
A named synthesizer is used for every line it can say, with espeak-ng after it for those it cannot.
"""

from __future__ import annotations

import logging

from dubkit.backends.protocols import BackendKind, supported_languages
from dubkit.backends.registry import Registry
from dubkit.errors import DubkitError, UnknownBackendError, UnknownLanguageError
from dubkit.models.languages import language_codes

__all__ = [
    "AUTO",
    "FALLBACK_SYNTHESIZER",
    "NATURAL_ORDER",
    "auto_choices",
    "candidate_synthesizers",
    "choose_synthesizer",
    "speaks",
    "synthesizer_chain",
]

log = logging.getLogger(__name__)

#: The synthesizer value that picks the most natural installed voice per target language.
AUTO = "auto"
#: Built-in synthesizers, most natural first.
NATURAL_ORDER: tuple[str, ...] = ("kokoro", "piper", "espeak-ng")
#: The synthesizer that says the lines a named one cannot (about 100 languages, no weights).
FALLBACK_SYNTHESIZER = "espeak-ng"


def speaks(synthesizer: object, language: str) -> bool:
    """Whether a synthesizer (an instance, loaded or not) says it speaks ``language``."""
    languages = supported_languages(synthesizer)
    return languages is None or language in languages


def _available(registry: Registry, name: str) -> bool:
    try:
        return registry.availability(registry.spec(BackendKind.SYNTHESIZER, name)).available
    except UnknownBackendError:
        return False


def candidate_synthesizers(registry: Registry, requested: str) -> tuple[str, ...]:
    """The synthesizers a dub with synthesizer ``requested`` may use, in the order it tries them.

    ``auto``: the available ones of `NATURAL_ORDER`. A name: that one, then `FALLBACK_SYNTHESIZER`
    when it is available (for the lines the named one cannot say).

    Raises:
        UnknownBackendError: ``auto`` and none of `NATURAL_ORDER` is available here.
    """
    if requested != AUTO:
        fallback = () if requested == FALLBACK_SYNTHESIZER else (FALLBACK_SYNTHESIZER,)
        return (requested, *(name for name in fallback if _available(registry, name)))
    found = tuple(name for name in NATURAL_ORDER if _available(registry, name))
    if not found:
        kind = BackendKind.SYNTHESIZER
        raise UnknownBackendError(kind.value, AUTO, registry.names(kind))
    return found


def synthesizer_chain(registry: Registry, language: str, requested: str = AUTO) -> tuple[str, ...]:
    """The synthesizers that would voice ``language``, first choice first, fallbacks after.

    Only backends that are available here and speak ``language`` are listed (their constructors run,
    no weights load).

    Raises:
        UnknownBackendError: ``auto`` and none of `NATURAL_ORDER` is available here.
    """
    chain = []
    for name in candidate_synthesizers(registry, requested):
        try:
            if speaks(registry.create(BackendKind.SYNTHESIZER, name), language):
                chain.append(name)
        except DubkitError as exc:
            log.warning("synthesizer %r left out for %r: %s", name, language, exc)
    return tuple(chain)


def choose_synthesizer(registry: Registry, language: str) -> str:
    """The synthesizer ``auto`` voices ``language`` with: the first of `NATURAL_ORDER` here that speaks it.

    Raises:
        UnknownLanguageError: no available synthesizer speaks ``language``.
        UnknownBackendError: none of `NATURAL_ORDER` is available here.
    """
    chain = synthesizer_chain(registry, language)
    if not chain:
        raise UnknownLanguageError(language, [], backend=AUTO)
    return chain[0]


def auto_choices(registry: Registry) -> dict[str, list[str]]:
    """Synthesizer -> the languages (of those dubkit knows) ``auto`` voices with it here, first choices only.

    Raises:
        UnknownBackendError: none of `NATURAL_ORDER` is available here.
    """
    out: dict[str, list[str]] = {}
    taken: set[str] = set()
    for name in candidate_synthesizers(registry, AUTO):
        try:
            languages = supported_languages(registry.create(BackendKind.SYNTHESIZER, name))
        except DubkitError as exc:
            log.warning("synthesizer %r left out: %s", name, exc)
            continue
        mine = [c for c in language_codes() if c not in taken and (languages is None or c in languages)]
        taken.update(mine)
        if mine:
            out[name] = mine
    return out
