"""A backend instance bound to its registered name, version and options, loaded on first use."""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

import attrs

from dubkit.backends.devices import DeviceUse
from dubkit.backends.protocols import DeviceBackend

__all__ = ["BackendBinding"]

B = TypeVar("B")


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        # Fields hidden from repr (tokens, passwords) never enter fingerprints, cache keys or projects.
        return {
            f.name: _plain(getattr(value, f.name)) for f in attrs.fields(type(value)) if f.repr is not False
        }
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf": JSON has no infinity, and cattrs turns the string back into the float
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


class BackendBinding(Generic[B]):
    """Holds one backend for a stage: it loads the backend when the stage first needs it.

    Args:
        kind: The capability (``transcriber``).
        name: The registered name (``faster-whisper``).
        backend: The (not yet loaded) backend instance.
        version: The providing distribution's version (part of every cache key).
    """

    def __init__(self, kind: str, name: str, backend: B, *, version: str = "") -> None:
        self.kind = kind
        self.name = name
        self.version = version
        self._backend = backend
        self._loaded = False
        self._lock = threading.Lock()

    @property
    def options(self) -> dict[str, Any]:
        """The backend's options as plain JSON-able values."""
        opts = getattr(self._backend, "options", None)
        return _plain(opts) if opts is not None else {}

    def fingerprint(self) -> dict[str, Any]:
        """What identifies this backend's output: kind, name, version and options."""
        return {"kind": self.kind, "name": self.name, "version": self.version, "options": self.options}

    @property
    def instance(self) -> B:
        """The backend, without loading it (for cheap queries such as supported languages)."""
        return self._backend

    def get(self) -> B:
        """The backend, loaded."""
        with self._lock:
            if not self._loaded:
                self._backend.load()  # type: ignore[attr-defined]
                self._loaded = True
        return self._backend

    def check_device(self) -> None:
        """Raise a `dubkit.errors.ConfigError` when the backend's device cannot be used here (no load)."""
        if isinstance(self._backend, DeviceBackend):
            self._backend.check_device()

    def device_use(self) -> DeviceUse | None:
        """Where the backend ran since it was last loaded; ``None`` when it never was (or does not say)."""
        if isinstance(self._backend, DeviceBackend):
            return self._backend.device_use()
        return None

    def close(self) -> None:
        """Free the backend's weights (it loads again on next use)."""
        with self._lock:
            if self._loaded:
                self._backend.close()  # type: ignore[attr-defined]
                self._loaded = False

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name} {self.version}>"
