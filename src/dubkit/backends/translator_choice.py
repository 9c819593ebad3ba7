"""Which translator serves each language pair: the one named, or the best installed one for the pair.

With ``translator="auto"`` (the default), a dub's translator is chosen per request, from the built-in
translators that can run here, in the order of `AUTO_TRANSLATORS`:

1. ``nllb`` when its model is already on this machine (a local folder or the Hugging Face cache):
   neural translation between any two of its 200 languages;
2. ``whisper-translate`` into English from any language Whisper knows: it translates the speech
   itself, offline, with the transcriber's model (on ``benchmarks/bench_translate.py``'s Spanish it
   scored chrF 48.0 against Apertium's 44.0 on the transcript);
3. ``apertium`` for the pairs installed on the machine (rule-based, fast, offline);
4. ``nllb`` when its model can be fetched from its hub (a download of about 2.5 GB on first use).

A translator named by the user always wins, for every pair it has (and fails a pair it does not).
Plugins are never chosen automatically: name one to use it. The choice is recorded in the dub project.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

import attrs

from dubkit.backends.apertium_packages import apertium_install_hint
from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import Translator, supported_pairs
from dubkit.errors import UnsupportedLanguagePairError
from dubkit.models.languages import language_codes

__all__ = ["AUTO", "AUTO_TRANSLATORS", "AutoTranslator", "TranslatorChoice", "model_location"]

AUTO = "auto"
"""The translator name that asks dubkit to choose one per language pair."""


@attrs.frozen(slots=True)
class AutoTranslator:
    """One step of the automatic choice.

    Attributes:
        name: A built-in translator.
        model: ``None``: any pair it has; ``"local"``: only when its model is on this machine;
            ``"hub"``: also when its model can be fetched from its hub.
        note: Why it comes at this place, for listings.
    """

    name: str
    model: str | None = None
    note: str = ""


AUTO_TRANSLATORS: tuple[AutoTranslator, ...] = (
    AutoTranslator("nllb", "local", "neural (NLLB-200), model on this machine"),
    AutoTranslator("whisper-translate", None, "Whisper's translation of the speech into English"),
    AutoTranslator("apertium", None, "rule-based, the pairs installed"),
    AutoTranslator("nllb", "hub", "neural (NLLB-200), model fetched from its hub on first use"),
)
"""The automatic choice, best first (see the module notes)."""


def model_location(translator: object) -> str | None:
    """Where a translator's model is: ``"local"``, ``"hub"`` (can be fetched) or ``None`` (nowhere).

    Read from its optional ``model_location()`` hook (with ``model_hint()`` saying what to do when it is
    nowhere); a translator without one counts as local.
    """
    hook = getattr(translator, "model_location", None)
    if hook is None:
        return "local"
    location = hook()
    return location if location in ("local", "hub") else None


@attrs.frozen
class _Entry:
    binding: BackendBinding[Translator]
    model: str | None
    note: str


class TranslatorChoice:
    """The translator of each (source, target) pair, among a named one or the automatic candidates.

    Args:
        entries: ``(binding, model requirement, note)`` in order of preference (see `AutoTranslator`).
        named: Whether the user named the (single) translator; then it serves every pair it has and
            nothing else is considered.
        hints: Extra install hints to show when no translator reaches a pair (``pip install ...``).
    """

    def __init__(
        self,
        entries: Iterable[tuple[BackendBinding[Translator], str | None, str]],
        *,
        named: bool,
        hints: Sequence[str] = (),
    ) -> None:
        self._entries = [_Entry(b, m, n) for b, m, n in entries]
        self.named = named
        self._hints = tuple(hints)
        self._locations: dict[int, str | None] = {}
        self._pairs: dict[int, Collection[tuple[str, str]] | None] = {}

    @classmethod
    def single(cls, binding: BackendBinding[Translator]) -> TranslatorChoice:
        """The choice when one translator is named."""
        return cls([(binding, None, "")], named=True)

    @property
    def bindings(self) -> list[BackendBinding[Translator]]:
        """Every candidate's binding, in order of preference (each binding once)."""
        seen: dict[int, BackendBinding[Translator]] = {}
        for entry in self._entries:
            seen.setdefault(id(entry.binding), entry.binding)
        return list(seen.values())

    def fingerprint(self) -> dict[str, Any]:
        """What identifies the choice: the candidates' fingerprints, requirements and model locations.

        The locations are part of it because they change the choice: a model downloaded since the last
        run makes another translator the best for a pair.
        """
        if self.named:
            return self._entries[0].binding.fingerprint()
        return {
            "kind": "translator",
            "name": AUTO,
            "candidates": [
                [e.binding.fingerprint(), e.model, self._location(e.binding) if e.model else None]
                for e in self._entries
            ],
        }

    # --- which pairs ---------------------------------------------------------------------------

    def _pairs_of(self, binding: BackendBinding[Translator]) -> Collection[tuple[str, str]] | None:
        key = id(binding)
        if key not in self._pairs:
            self._pairs[key] = supported_pairs(binding.instance)
        return self._pairs[key]

    def _location(self, binding: BackendBinding[Translator]) -> str | None:
        key = id(binding)
        if key not in self._locations:
            self._locations[key] = model_location(binding.instance)
        return self._locations[key]

    def _usable(self, entry: _Entry) -> bool:
        """Whether the entry's model requirement is met (a named translator has none)."""
        if entry.model is None or self.named:
            return True
        location = self._location(entry.binding)
        return location == "local" if entry.model == "local" else location in ("local", "hub")

    def _serves(self, entry: _Entry, source: str, target: str) -> bool:
        pairs = self._pairs_of(entry.binding)
        if pairs is not None and (source, target) not in pairs:
            return False
        return self._usable(entry)

    def serving(self, source: str, target: str) -> BackendBinding[Translator] | None:
        """The translator for ``source`` -> ``target``, or ``None`` when none reaches it."""
        for entry in self._entries:
            if self._serves(entry, source, target):
                return entry.binding
        return None

    def pairs(self, languages: Collection[str] | None = None) -> dict[tuple[str, str], str]:
        """Every reachable (source, target) pair among ``languages`` -> the translator serving it.

        Args:
            languages: ISO 639-1 codes (default: every language dubkit knows).
        """
        codes = sorted(languages) if languages is not None else list(language_codes())
        wanted = {(s, t) for s in codes for t in codes if s != t}
        out: dict[tuple[str, str], str] = {}
        for entry in self._entries:
            pairs = self._pairs_of(entry.binding)
            reached = wanted if pairs is None else wanted & set(pairs)
            fresh = reached - out.keys()
            if fresh and self._usable(entry):
                out.update(dict.fromkeys(fresh, entry.binding.name))
        return dict(sorted(out.items()))

    def reachable_targets(self, source: str) -> list[str]:
        """The targets some candidate translates ``source`` into."""
        return sorted(t for s, t in self.pairs() if s == source)

    def for_pair(self, source: str, target: str) -> BackendBinding[Translator]:
        """The translator for ``source`` -> ``target``.

        Raises:
            UnsupportedLanguagePairError: no candidate reaches the pair; the error lists the targets
                reachable from ``source`` and what to install for the pair.
        """
        binding = self.serving(source, target)
        if binding is not None:
            return binding
        name = self._entries[0].binding.name if self.named else AUTO
        supported: list[str] = []
        for entry in self._entries:
            pairs = self._pairs_of(entry.binding)
            supported += [f"{s}-{t}" for s, t in pairs or ()]
        raise UnsupportedLanguagePairError(
            source,
            target,
            name,
            sorted(set(supported)),
            install=self.install_hint(source, target),
            reachable=self.reachable_targets(source),
        )

    def install_hint(self, source: str, target: str) -> str | None:
        """What to install so that a translator reaches ``source`` -> ``target``, when something would."""
        hints = []
        apertium = apertium_install_hint(source, target)
        if apertium and (not self.named or self._entries[0].binding.name == "apertium"):
            hints.append(apertium)
        for entry in self._entries:
            pairs = self._pairs_of(entry.binding)
            if entry.model is not None and (pairs is None or (source, target) in pairs):
                hook = getattr(entry.binding.instance, "model_hint", None)
                if (
                    hook is not None
                    and self._location(entry.binding) is None
                    and (hint := hook()) not in hints
                ):
                    hints.append(hint)
        if not self.named:
            hints += self._hints
        return " or ".join(hints) or None

    def notes(self) -> Mapping[str, str]:
        """Translator name -> why it is where it is in the order (automatic choice only)."""
        return {e.binding.name: e.note for e in self._entries if e.note}

    def close(self) -> None:
        """Free every candidate that was loaded."""
        for binding in self.bindings:
            binding.close()
