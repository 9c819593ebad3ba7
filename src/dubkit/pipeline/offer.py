"""Which (source, target) language pairs the installed backends can actually dub, and why others cannot.

A pair can be dubbed when the transcriber hears the source, a translator reaches the target from it
(`dubkit.backends.translator_choice`), and a synthesizer speaks the target. `language_offer` answers
that for a `PipelineConfig` without loading a model: it reads each backend's ``languages()`` and
``language_pairs()`` hooks. ``dubkit languages``, ``GET /api/v1/languages`` and the web page list what
it finds; an upload asking for a pair outside it is refused before any work.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import attrs

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import BackendKind, supported_languages
from dubkit.backends.registry import Registry
from dubkit.backends.translator_choice import AUTO
from dubkit.errors import BackendError, ConfigError, UnknownLanguageError, UnsupportedLanguagePairError
from dubkit.models.languages import get_language, language_codes
from dubkit.pipeline.build import PipelineConfig, bind_translators
from dubkit.pipeline.warm import bind_backend

__all__ = ["AUTO_SOURCE", "DubbablePair", "LanguageOffer", "language_name", "language_offer"]

AUTO_SOURCE = "auto"
"""The source language of a request whose language is detected."""


@attrs.frozen(slots=True)
class DubbablePair:
    """A pair that can be dubbed, and the backends that dub it.

    Attributes:
        source: ISO 639-1, or ``auto`` (the language is detected; then ``sources`` says which detected
            languages reach ``target``).
        target: ISO 639-1.
        translator: The translator serving the pair (for ``auto``: the one for each source, in
            ``translators``).
        synthesizer: The synthesizer that voices ``target``.
        sources: For ``auto``: the source languages that reach ``target``.
        translators: For ``auto``: the translator for each of ``sources``, in the same order.
    """

    source: str
    target: str
    translator: str | None
    synthesizer: str
    sources: tuple[str, ...] = ()
    translators: tuple[str, ...] = ()


@attrs.frozen
class LanguageOffer:
    """What a pipeline configuration can dub here.

    Attributes:
        sources: The languages the transcriber hears (ISO 639-1), sorted.
        voices: Target language -> the synthesizer that speaks it.
        pairs: Every pair that can be dubbed, ``auto`` sources included, sorted.
        translator: The translator setting (a name, or ``auto``).
        install_hints: (source, target) -> what to install so that a translator reaches the pair.
    """

    sources: tuple[str, ...]
    voices: Mapping[str, str]
    pairs: tuple[DubbablePair, ...]
    translator: str
    install_hints: Mapping[tuple[str, str], str] = attrs.field(factory=dict)

    def targets(self, source: str) -> list[str]:
        """The targets ``source`` (or ``auto``) can be dubbed into, sorted."""
        return sorted(p.target for p in self.pairs if p.source == source)

    def pair(self, source: str, target: str) -> DubbablePair | None:
        """The pair, when it can be dubbed."""
        for p in self.pairs:
            if p.source == source and p.target == target:
                return p
        return None

    def why_not(self, source: str, target: str) -> str | None:
        """Why ``source`` -> ``target`` cannot be dubbed (``None`` when it can)."""
        if self.pair(source, target) is not None:
            return None
        if source == target:
            return f"{target!r} is the source language"
        if source != AUTO_SOURCE and source not in self.sources:
            return f"the transcriber does not know {source!r}"
        if target not in self.voices:
            return f"no installed voice speaks {target!r}"
        who = (
            "no installed translator" if self.translator == AUTO else f"translator {self.translator!r} cannot"
        )
        verb = "translates" if self.translator == AUTO else "translate"
        reason = f"{who} {verb} {source!r} into {target!r}"
        if source == AUTO_SOURCE:
            reason = f"{who} {verb} any language into {target!r}"
        hint = self.install_hints.get((source, target))
        return f"{reason} (to add it: {hint})" if hint else reason

    def check(self, source: str, target: str) -> None:
        """Refuse a pair that cannot be dubbed, before any work.

        Raises:
            UnsupportedLanguagePairError: no translator reaches it (listing the reachable targets).
            UnknownLanguageError: no voice speaks the target, or the transcriber does not know the source.
            ConfigError: the target is the source.
        """
        reason = self.why_not(source, target)
        if reason is None:
            return
        if source == target:
            raise ConfigError(f"target language {target!r} is the source language", field="target_language")
        if source != AUTO_SOURCE and source not in self.sources:
            raise UnknownLanguageError(source, self.sources)
        if target not in self.voices:
            raise UnknownLanguageError(target, sorted(self.voices))
        raise UnsupportedLanguagePairError(
            source,
            target,
            self.translator,
            [],
            reachable=self.targets(source),
            install=self.install_hints.get((source, target)),
        )


def _languages(binding: BackendBinding[Any]) -> frozenset[str]:
    """The dubkit languages a backend says it handles (every one when it does not say)."""
    known = frozenset(language_codes())
    langs: Collection[str] | None = supported_languages(binding.instance)
    return known if langs is None else known & frozenset(langs)


def language_offer(config: PipelineConfig | None = None, registry: Registry | None = None) -> LanguageOffer:
    """What ``config``'s backends can dub here (no model is loaded; see the module notes).

    Raises:
        BackendError: the transcriber or the synthesizer cannot be used here.
        ConfigError: invalid options.
    """
    config = config or PipelineConfig()
    registry = registry or Registry()
    transcriber = bind_backend(
        registry,
        BackendKind.TRANSCRIBER,
        config.transcriber,
        config.backend_options.get(BackendKind.TRANSCRIBER),
    )
    sources = _languages(transcriber)
    voices: dict[str, str] = {}
    for name in _synthesizers(registry, config):
        options = config.backend_options.get(BackendKind.SYNTHESIZER) if name == config.synthesizer else None
        try:
            binding = bind_backend(registry, BackendKind.SYNTHESIZER, name, options)
            spoken = _languages(binding)
        except BackendError:
            continue
        for code in spoken:
            voices.setdefault(code, name)
    translators = bind_translators(registry, config)
    served = translators.pairs(sources | frozenset(voices))
    pairs: list[DubbablePair] = []
    hints: dict[tuple[str, str], str] = {}
    for target in sorted(voices):
        reaching = []
        for source in sorted(sources):
            if source == target:
                continue
            translator = served.get((source, target))
            if translator is not None:
                pairs.append(DubbablePair(source, target, translator, voices[target]))
                reaching.append((source, translator))
            elif (hint := translators.install_hint(source, target)) is not None:
                hints[(source, target)] = hint
        if reaching:
            pairs.append(
                DubbablePair(
                    AUTO_SOURCE,
                    target,
                    None,
                    voices[target],
                    tuple(s for s, _ in reaching),
                    tuple(t for _, t in reaching),
                )
            )
        elif (hint := translators.install_hint("en", target)) is not None:
            hints[(AUTO_SOURCE, target)] = hint
    return LanguageOffer(
        sources=tuple(sorted(sources)),
        voices=voices,
        pairs=tuple(sorted(pairs, key=lambda p: (p.source != AUTO_SOURCE, p.source, p.target))),
        translator=config.translator,
        install_hints=hints,
    )


def _synthesizers(registry: Registry, config: PipelineConfig) -> list[str]:
    """The synthesizers a dub may use: the one configured (with ``auto``: every one available here)."""
    if config.synthesizer != AUTO:
        return [config.synthesizer]
    return [
        spec.name
        for spec in registry.specs(BackendKind.SYNTHESIZER)
        if spec.builtin and registry.availability(spec).available
    ]


def language_name(code: str) -> str:
    """The English name of a language code (``auto``: detected)."""
    if code == AUTO_SOURCE:
        return "Detect automatically"
    try:
        return get_language(code).name
    except UnknownLanguageError:
        return code
