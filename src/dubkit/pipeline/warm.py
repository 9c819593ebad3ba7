"""Warm backends: loaded models kept across jobs, bounded by a memory budget, least recently used first out.

A worker that dubs many files should not load Whisper for every job. `WarmBackends` keeps the backends a
job used, loaded, after the job ends; the next job that asks for the same backend (same kind, name, version
and options) gets the loaded instance back instead of loading a new one.

* **One job at a time per instance.** `WarmBackends.checkout` opens a `WarmCheckout` for one job; every
  backend it binds is lent to that job alone until `WarmCheckout.release`. Two jobs running at once that
  want the same backend get two instances (the second is loaded anew), so no backend is ever used by two
  threads at once, and no backend needs to be thread-safe.
* **Footprint.** When a binding loads its backend, its size is taken from the backend's own
  ``memory_footprint`` attribute (bytes) when it has one, else from the growth of this process's resident
  memory (RSS, from ``/proc/self/statm``) across ``load()``. RSS growth is an estimate: another thread
  allocating at the same moment is counted too, and memory that a library keeps after ``close()`` is not
  given back; it is what can be measured without asking each backend.
* **Budget.** Whenever a backend is loaded or a job releases its backends, idle backends (not lent to a
  job) are closed, least recently used first, until the total footprint is within the budget. Backends in
  use are never closed, so the total can exceed the budget while jobs run; a backend larger than the whole
  budget is closed as soon as its job releases it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Protocol

import attrs

from dubkit.backends.binding import BackendBinding
from dubkit.backends.protocols import BackendKind
from dubkit.backends.registry import Registry
from dubkit.errors import ConfigError

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "BackendSource",
    "WarmBackends",
    "WarmCheckout",
    "WarmStats",
    "bind_backend",
    "parse_memory_size",
    "resident_memory",
]

logger = logging.getLogger(__name__)

DEFAULT_MEMORY_BUDGET = 4 * 1024**3
"""Default budget of a worker's warm backends: 4 GiB (the default backends take well under 1 GiB)."""

_UNITS = {"": 1, "b": 1, "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?)(b?)\s*$", re.IGNORECASE)


def parse_memory_size(text: str) -> int:
    """Bytes from a size such as ``2GB``, ``512MiB``, ``1.5g`` or ``1000000`` (``KB`` = 1000, ``KiB`` = 1024).

    Raises:
        ConfigError: Not a size.
    """
    match = _SIZE.match(text)
    if match is None or (match.group(3) and not match.group(2)):
        raise ConfigError(f"not a memory size: {text!r} (examples: 2GB, 512MiB)", field="memory_budget")
    number, prefix, binary = float(match.group(1)), match.group(2).lower(), bool(match.group(3))
    scale = 1024 ** "kmgt".index(prefix) * 1024 if binary else _UNITS[prefix]
    return int(number * scale)


def resident_memory() -> int:
    """This process's resident memory in bytes (0 where ``/proc/self/statm`` cannot be read)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as handle:
            resident_pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


class BackendSource(Protocol):
    """Where `dubkit.pipeline.build.build_pipeline` gets each backend's binding."""

    def bind(
        self, registry: Registry, kind: BackendKind, name: str, options: Mapping[str, Any] | None
    ) -> BackendBinding[Any]:
        """A binding of backend ``name`` of ``kind`` with ``options``."""


def bind_backend(
    registry: Registry, kind: BackendKind, name: str, options: Mapping[str, Any] | None
) -> BackendBinding[Any]:
    """Create (not load) a backend and bind it to its name and version.

    Raises:
        UnknownBackendError: no such backend.
        BackendUnavailableError: its extra is not installed.
        BackendValidationError: it breaks its protocol.
        ConfigError: invalid options.
    """
    spec = registry.spec(kind, name)
    instance = registry.create(kind, name, dict(options) if options else None)
    return BackendBinding(kind.value, name, instance, version=spec.version)


@attrs.frozen
class WarmStats:
    """What a `WarmBackends` did so far.

    Attributes:
        loads: Backends loaded (a warm hit loads nothing).
        hits: Bindings served by an instance kept from an earlier job.
        evictions: Idle backends closed to keep within the budget (or by `WarmBackends.close`).
        resident_bytes: Total footprint of the backends loaded now.
        entries: Backend instances held now (loaded or not, idle or lent).
    """

    loads: int
    hits: int
    evictions: int
    resident_bytes: int
    entries: int


class _Entry:
    """One backend instance held by the cache."""

    def __init__(self, key: str, binding: _WarmBinding) -> None:
        self.key = key
        self.binding = binding
        self.footprint = 0
        self.in_use = True
        self.last_used = 0


class _WarmBinding(BackendBinding[Any]):
    """A binding that tells its cache when it loads (with the footprint) and when it is closed."""

    def __init__(self, base: BackendBinding[Any], cache: WarmBackends) -> None:
        super().__init__(base.kind, base.name, base.instance, version=base.version)
        self._cache = cache
        self._measured = False
        self._measure_lock = threading.Lock()
        self.entry: _Entry | None = None

    def get(self) -> Any:
        with self._measure_lock:
            if self._measured:
                return super().get()
            before = self._cache.measure()
            backend = super().get()
            grown = max(0, self._cache.measure() - before)
            reported = getattr(backend, "memory_footprint", None)
            footprint = reported if isinstance(reported, int) and reported >= 0 else grown
            self._measured = True
        if self.entry is not None:
            self._cache._loaded(self.entry, footprint)
        return backend

    def close(self) -> None:
        with self._measure_lock:
            super().close()
            self._measured = False
        if self.entry is not None:
            self._cache._unloaded(self.entry)


class WarmBackends:
    """Loaded backends kept across jobs, lent to one job at a time, within a memory budget (thread-safe).

    Args:
        memory_budget: Most bytes of idle loaded backends to keep (see the module notes).
        measure: Returns the process's memory in bytes (tests and platforms without ``/proc``).

    Raises:
        ConfigError: ``memory_budget`` is negative.
    """

    def __init__(
        self, memory_budget: int = DEFAULT_MEMORY_BUDGET, *, measure: Callable[[], int] = resident_memory
    ) -> None:
        if memory_budget < 0:
            raise ConfigError(
                f"memory_budget must not be negative, got {memory_budget}", field="memory_budget"
            )
        self.memory_budget = memory_budget
        self.measure = measure
        self._lock = threading.Lock()
        self._entries: list[_Entry] = []
        self._tick = 0
        self._loads = 0
        self._hits = 0
        self._evictions = 0

    def __repr__(self) -> str:
        return f"WarmBackends(memory_budget={self.memory_budget}, entries={len(self._entries)})"

    @property
    def stats(self) -> WarmStats:
        """Loads, hits and evictions so far, and what is held now."""
        with self._lock:
            return WarmStats(
                loads=self._loads,
                hits=self._hits,
                evictions=self._evictions,
                resident_bytes=sum(e.footprint for e in self._entries),
                entries=len(self._entries),
            )

    def checkout(self) -> WarmCheckout:
        """A `BackendSource` for one job; release it when the job ends."""
        return WarmCheckout(self)

    def close(self) -> None:
        """Close every idle backend; the cache stays usable (lent backends stay until released)."""
        with self._lock:
            victims = [e for e in self._entries if not e.in_use]
            self._entries = [e for e in self._entries if e.in_use]
            self._evictions += len(victims)
        self._close(victims)

    # --- used by WarmCheckout and _WarmBinding ------------------------------------------------------

    def _lend(
        self, registry: Registry, kind: BackendKind, name: str, options: Mapping[str, Any] | None
    ) -> _Entry:
        fresh = bind_backend(registry, kind, name, options)  # cheap: constructors load nothing
        key = json.dumps(fresh.fingerprint(), sort_keys=True, default=str)
        with self._lock:
            for entry in self._entries:
                if entry.key == key and not entry.in_use:
                    entry.in_use = True
                    self._hits += 1
                    logger.debug("warm hit: %s %s", kind.value, name)
                    return entry
            binding = _WarmBinding(fresh, self)
            entry = _Entry(key, binding)
            binding.entry = entry
            self._entries.append(entry)
            return entry

    def _return(self, entries: list[_Entry]) -> None:
        with self._lock:
            for entry in entries:
                self._tick += 1
                entry.in_use = False
                entry.last_used = self._tick
            victims = self._over_budget()
        self._close(victims)

    def _loaded(self, entry: _Entry, footprint: int) -> None:
        with self._lock:
            self._loads += 1
            entry.footprint = footprint
            victims = self._over_budget()
        logger.info("loaded %s %s (%.1f MB)", entry.binding.kind, entry.binding.name, footprint / 1e6)
        self._close(victims)

    def _unloaded(self, entry: _Entry) -> None:
        with self._lock:
            entry.footprint = 0

    def _over_budget(self) -> list[_Entry]:
        """Idle entries to close, least recently used first, until the total is within the budget."""
        total = sum(e.footprint for e in self._entries)
        victims: list[_Entry] = []
        for entry in sorted((e for e in self._entries if not e.in_use), key=lambda e: e.last_used):
            if total <= self.memory_budget:
                break
            victims.append(entry)
            total -= entry.footprint
        for entry in victims:
            self._entries.remove(entry)
        self._evictions += len(victims)
        return victims

    def _close(self, victims: list[_Entry]) -> None:
        for entry in victims:
            logger.info(
                "evicting %s %s (%.1f MB)", entry.binding.kind, entry.binding.name, entry.footprint / 1e6
            )
            entry.binding.entry = None
            try:
                entry.binding.close()
            except Exception:  # a backend that fails to close must not break the worker
                logger.exception("closing %s %s failed", entry.binding.kind, entry.binding.name)


class WarmCheckout:
    """The backends one job borrowed from a `WarmBackends` (a `BackendSource`); release them at the end.

    Use it as a context manager, or call `release` (once) when the job ends, failed or not.
    """

    def __init__(self, cache: WarmBackends) -> None:
        self._cache = cache
        self._entries: list[_Entry] = []
        self._released = False

    def bind(
        self, registry: Registry, kind: BackendKind, name: str, options: Mapping[str, Any] | None
    ) -> BackendBinding[Any]:
        """A binding lent to this job alone: a warm instance when an idle one matches, else a new one.

        Raises:
            ConfigError: The checkout was released already (or invalid options).
            UnknownBackendError: No such backend.
            BackendUnavailableError: Its extra is not installed.
            BackendValidationError: It breaks its protocol.
        """
        if self._released:
            raise ConfigError("this backend checkout was released already", field="backends")
        entry = self._cache._lend(registry, kind, name, options)
        self._entries.append(entry)
        return entry.binding

    def release(self) -> None:
        """Give every borrowed backend back to the cache (still loaded, for the next job)."""
        if not self._released:
            self._released = True
            self._cache._return(self._entries)
            self._entries = []

    def __enter__(self) -> WarmCheckout:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()
