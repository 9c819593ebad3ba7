"""Backend protocols, base classes, the registry and the built-in backends (imported lazily)."""

from typing import TYPE_CHECKING

from dubkit._lazy import attach

if TYPE_CHECKING:  # loaded on first use: see dubkit._lazy
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

__getattr__, __dir__ = attach(
    __name__,
    {
        "Availability": "dubkit.backends.registry",
        "BUILTIN_BACKENDS": "dubkit.backends.catalog",
        "BackendKind": "dubkit.backends.protocols",
        "BackendSpec": "dubkit.backends.catalog",
        "BaseBackend": "dubkit.backends.base",
        "BaseDiarizer": "dubkit.backends.base",
        "BaseSeparator": "dubkit.backends.base",
        "BaseSynthesizer": "dubkit.backends.base",
        "BaseTranscriber": "dubkit.backends.base",
        "BaseTranslator": "dubkit.backends.base",
        "BaseVAD": "dubkit.backends.base",
        "DEFAULT_BACKENDS": "dubkit.backends.catalog",
        "NoOptions": "dubkit.backends.base",
        "PLUGIN_API_VERSION": "dubkit.backends.protocols",
        "Registry": "dubkit.backends.registry",
        "TranslationCandidate": "dubkit.backends.protocols",
    },
)
