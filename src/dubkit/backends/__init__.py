"""Backend protocols, base classes, the registry and the built-in backends (imported lazily)."""

from dubkit.backends.base import (
    BaseBackend,
    BaseDiarizer,
    BaseSeparator,
    BaseSynthesizer,
    BaseTranscriber,
    BaseTranslator,
    BaseVAD,
    NoOptions,
)
from dubkit.backends.catalog import BUILTIN_BACKENDS, DEFAULT_BACKENDS, BackendSpec
from dubkit.backends.protocols import PLUGIN_API_VERSION, BackendKind, TranslationCandidate
from dubkit.backends.registry import Availability, Registry

__all__ = [
    "BUILTIN_BACKENDS",
    "DEFAULT_BACKENDS",
    "PLUGIN_API_VERSION",
    "Availability",
    "BackendKind",
    "BackendSpec",
    "BaseBackend",
    "BaseDiarizer",
    "BaseSeparator",
    "BaseSynthesizer",
    "BaseTranscriber",
    "BaseTranslator",
    "BaseVAD",
    "NoOptions",
    "Registry",
    "TranslationCandidate",
]
