"""Base classes that make a backend satisfy its protocol with one method.

```python
import attrs
from dubkit.backends import BaseSynthesizer


class MyVoice(BaseSynthesizer["MyVoice.Options"]):
    @attrs.frozen
    class Options:
        speed: float = 1.0

    def _load(self) -> None:
        self._model = ...  # heavy imports and weights here, never at import time

    def synthesize(self, text, voice, out_path):
        ...
```
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from types import TracebackType
from typing import Any, ClassVar, Generic, TypeVar

import attrs
from typing_extensions import Self

from dubkit.backends.protocols import PLUGIN_API_VERSION
from dubkit.models.speech import Voice

__all__ = [
    "BaseBackend",
    "BaseDiarizer",
    "BaseSeparator",
    "BaseSynthesizer",
    "BaseTranscriber",
    "BaseTranslator",
    "BaseVAD",
    "NoOptions",
]


@attrs.frozen
class NoOptions:
    """Options of a backend that takes none."""


OptionsT = TypeVar("OptionsT")


class BaseBackend(Generic[OptionsT]):
    """Cheap constructor with typed options; ``load``/``close`` guarded so they run once.

    Subclasses declare their options as a nested attrs class named ``Options`` (or keep
    `NoOptions`) and override `_load` / `_close` for weights.
    """

    plugin_api: ClassVar[int] = PLUGIN_API_VERSION
    Options: ClassVar[type[Any]] = NoOptions

    def __init__(self, options: OptionsT | None = None) -> None:
        self.options: OptionsT = options if options is not None else self.Options()
        self._loaded = False
        self._lock = threading.RLock()

    @property
    def loaded(self) -> bool:
        """Whether ``load()`` has run (and ``close()`` has not since)."""
        return self._loaded

    def load(self) -> None:
        """Load weights and heavy libraries; safe to call more than once."""
        with self._lock:
            if not self._loaded:
                self._load()
                self._loaded = True

    def close(self) -> None:
        """Free what ``load()`` took; safe to call more than once."""
        with self._lock:
            if self._loaded:
                self._close()
                self._loaded = False

    def _load(self) -> None:
        """Override to load weights."""

    def _close(self) -> None:
        """Override to free weights."""

    def __enter__(self) -> Self:
        self.load()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.options!r})"


class BaseSeparator(BaseBackend[OptionsT]):
    """Base for separators: implement ``separate(audio, out_dir) -> Stems``."""


class BaseVAD(BaseBackend[OptionsT]):
    """Base for voice-activity detectors: implement ``detect(audio) -> Sequence[SpeechRegion]``."""


class BaseDiarizer(BaseBackend[OptionsT]):
    """Base for diarizers: implement ``diarize(audio, regions) -> Sequence[SpeakerTurn]``."""


class BaseTranscriber(BaseBackend[OptionsT]):
    """Base for transcribers: implement ``transcribe(audio, regions, language) -> Transcript``."""

    def languages(self) -> Collection[str] | None:
        """ISO 639-1 codes this transcriber handles; ``None`` = any."""
        return None


class BaseTranslator(BaseBackend[OptionsT]):
    """Base for translators: implement ``translate(texts, source, target, n_best) -> list[list[str]]``."""

    def language_pairs(self) -> Collection[tuple[str, str]] | None:
        """(source, target) pairs this translator handles; ``None`` = any."""
        return None


class BaseSynthesizer(BaseBackend[OptionsT]):
    """Base for synthesizers: implement ``synthesize(text, voice, out_path) -> AudioFile``."""

    def languages(self) -> Collection[str] | None:
        """ISO 639-1 codes this synthesizer speaks; ``None`` = any."""
        return None

    def voices(self, language: str) -> Sequence[Voice]:
        """Distinct voices for ``language``, best first (speakers get them in order)."""
        return (Voice(id=language, language=language),)
