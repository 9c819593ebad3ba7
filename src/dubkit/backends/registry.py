"""The backend registry: an object (never a module global) that lists backends without importing them.

Built-ins come from `dubkit.backends.catalog.BUILTIN_BACKENDS`; plugins from the entry-point
groups ``dubkit.separators``, ``dubkit.vad``, ``dubkit.diarizers``, ``dubkit.transcribers``,
``dubkit.translators``, ``dubkit.synthesizers`` (and ``dubkit.stages`` for extra pipeline stages).
A backend is imported on first use and validated then, so a broken plugin fails at load with
`dubkit.errors.BackendValidationError`, not halfway into a job. Backends are only ever
named by their registered name: no import path from a config file or a request is ever imported.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import logging
import shutil
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import cattrs

from dubkit._version import __version__
from dubkit.backends.catalog import BUILTIN_BACKENDS, BackendSpec
from dubkit.backends.protocols import PLUGIN_API_VERSION, BackendKind, required_method
from dubkit.errors import (
    BackendConflictError,
    BackendUnavailableError,
    BackendValidationError,
    ConfigError,
    UnknownBackendError,
)

__all__ = [
    "STAGE_ENTRY_POINT_GROUP",
    "Availability",
    "Registry",
    "StageSpec",
    "build_options",
    "validate_backend_class",
]

logger = logging.getLogger(__name__)

STAGE_ENTRY_POINT_GROUP = "dubkit.stages"

EntryPointsFn = Callable[[str], Iterable[importlib.metadata.EntryPoint]]


@attrs.frozen(slots=True)
class Availability:
    """Whether a backend can be used here, decided without importing it."""

    available: bool
    reason: str | None = None
    install: str | None = None


@attrs.frozen(slots=True)
class StageSpec:
    """A plugin pipeline stage found in the ``dubkit.stages`` group (not imported)."""

    name: str
    target: str
    distribution: str
    version: str


def _entry_points(group: str) -> Iterable[importlib.metadata.EntryPoint]:
    return importlib.metadata.entry_points(group=group)


def _installed(distribution: str) -> bool:
    try:
        importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def build_options(kind: BackendKind, name: str, options_cls: type[Any], values: Mapping[str, Any]) -> Any:
    """Turn a plain mapping (from a CLI, a config file or a request) into a backend's typed options.

    Raises:
        ConfigError: an unknown option or a value of the wrong type; the error names the valid options.
    """
    converter = cattrs.Converter(forbid_extra_keys=True)
    try:
        return converter.structure(dict(values), options_cls)
    except (cattrs.BaseValidationError, TypeError, ValueError) as exc:
        known = [f.name for f in attrs.fields(options_cls)] if attrs.has(options_cls) else []
        detail = (
            "; ".join(str(e) for e in cattrs.transform_error(exc))
            if isinstance(exc, cattrs.BaseValidationError)
            else str(exc)
        )
        raise ConfigError(
            f"invalid options for {kind.value} {name!r}: {detail}",
            field=f"{kind.value}.options",
            hint=f"valid options: {', '.join(known) or 'none'}",
        ) from exc


class Registry:
    """Lists, loads, validates and creates backends.

    Args:
        builtins: The built-in table (defaults to dubkit's own).
        discover_plugins: Whether to read the entry-point groups.
        entry_points: Replaces `importlib.metadata.entry_points` (tests, sandboxes).
    """

    def __init__(
        self,
        builtins: Iterable[BackendSpec] = BUILTIN_BACKENDS,
        *,
        discover_plugins: bool = True,
        entry_points: EntryPointsFn = _entry_points,
    ) -> None:
        self._builtins = tuple(attrs.evolve(s, version=s.version or __version__) for s in builtins)
        self._discover = discover_plugins
        self._entry_points = entry_points
        self._claims: dict[tuple[BackendKind, str], list[BackendSpec]] | None = None
        self._classes: dict[tuple[BackendKind, str], type[Any]] = {}
        self._registered: dict[tuple[BackendKind, str], type[Any]] = {}
        self._lock = threading.RLock()

    # --- listing (no imports) ---------------------------------------------------------------------

    def _scan(self) -> dict[tuple[BackendKind, str], list[BackendSpec]]:
        with self._lock:
            if self._claims is None:
                claims: dict[tuple[BackendKind, str], list[BackendSpec]] = defaultdict(list)
                for spec in self._builtins:
                    claims[(spec.kind, spec.name)].append(spec)
                if self._discover:
                    for kind in BackendKind:
                        for spec in self._plugin_specs(kind):
                            key = (kind, spec.name)
                            if all(s.distribution != spec.distribution for s in claims[key]):
                                claims[key].append(spec)
                self._claims = dict(claims)
            return self._claims

    def _plugin_specs(self, kind: BackendKind) -> Iterable[BackendSpec]:
        for ep in self._entry_points(kind.entry_point_group):
            dist = getattr(ep, "dist", None)
            yield BackendSpec(
                kind=kind,
                name=ep.name,
                target=ep.value,
                distribution=dist.metadata["Name"] if dist is not None else "unknown",
                version=dist.version if dist is not None else "",
                builtin=False,
                description=(dist.metadata.get("Summary") or "") if dist is not None else "",
            )

    def specs(self, kind: BackendKind | str | None = None) -> list[BackendSpec]:
        """Every registered backend (of one kind, or all), sorted by kind then name; imports nothing.

        A name claimed by several distributions appears once per claim.
        """
        wanted = BackendKind(kind) if kind is not None else None
        found = [s for claims in self._scan().values() for s in claims if wanted in (None, s.kind)]
        found += [
            BackendSpec(
                kind=k,
                name=n,
                target=f"{c.__module__}:{c.__qualname__}",
                distribution="(registered)",
                builtin=False,
            )
            for (k, n), c in self._registered.items()
            if wanted in (None, k)
        ]
        order = list(BackendKind)
        return sorted(found, key=lambda s: (order.index(s.kind), s.name, s.distribution))

    def names(self, kind: BackendKind | str) -> list[str]:
        """Registered names of one kind, sorted."""
        return sorted({s.name for s in self.specs(kind)})

    def spec(self, kind: BackendKind | str, name: str) -> BackendSpec:
        """The one spec registered for ``name``.

        Raises:
            UnknownBackendError: no such name (the error lists the known ones).
            BackendConflictError: several distributions claim the name.
        """
        kind = BackendKind(kind)
        if (kind, name) in self._registered:
            cls = self._registered[(kind, name)]
            return BackendSpec(
                kind=kind,
                name=name,
                target=f"{cls.__module__}:{cls.__qualname__}",
                distribution="(registered)",
                builtin=False,
            )
        claims = self._scan().get((kind, name), [])
        if not claims:
            raise UnknownBackendError(kind.value, name, self.names(kind))
        if len(claims) > 1:
            raise BackendConflictError(
                kind.value, name, [f"{s.distribution} {s.version}".strip() for s in claims]
            )
        return claims[0]

    def availability(self, spec: BackendSpec) -> Availability:
        """Whether ``spec`` can load here: its required distributions are installed and its programs on PATH.

        Only installed distributions' metadata is read; nothing is imported.
        """
        if len(self._scan().get((spec.kind, spec.name), [spec])) > 1:
            return Availability(False, "name claimed by several distributions", None)
        missing = [d for d in spec.requires if not _installed(d)]
        if missing:
            return Availability(False, f"missing package(s): {', '.join(missing)}", spec.install_hint)
        absent = [b for b in spec.binaries if shutil.which(b) is None]
        if absent:
            return Availability(False, f"missing program(s): {', '.join(absent)}", spec.install_hint)
        return Availability(True)

    def stage_specs(self) -> list[StageSpec]:
        """Plugin stages from the ``dubkit.stages`` group; imports nothing."""
        out = []
        for ep in self._entry_points(STAGE_ENTRY_POINT_GROUP) if self._discover else ():
            dist = getattr(ep, "dist", None)
            out.append(
                StageSpec(
                    ep.name,
                    ep.value,
                    dist.metadata["Name"] if dist else "unknown",
                    dist.version if dist else "",
                )
            )
        return sorted(out, key=lambda s: s.name)

    # --- registration by code (notebooks, tests) ---------------------------------------------------

    def register(self, kind: BackendKind | str, name: str, cls: type[Any]) -> None:
        """Register a backend class under ``name`` in this registry only (validated now).

        Raises:
            BackendValidationError: the class does not satisfy the protocol of ``kind``.
            BackendConflictError: the name is taken already.
        """
        kind = BackendKind(kind)
        if (kind, name) in self._registered or (kind, name) in self._scan():
            raise BackendConflictError(kind.value, name, ["(registered)", "(existing)"])
        validate_backend_class(kind, name, cls, source=f"{cls.__module__}:{cls.__qualname__}")
        self._registered[(kind, name)] = cls

    # --- loading ----------------------------------------------------------------------------------

    def load_class(self, kind: BackendKind | str, name: str) -> type[Any]:
        """Import and validate the backend class registered as ``name``; cached.

        Raises:
            UnknownBackendError: no such name.
            BackendConflictError: several distributions claim it.
            BackendUnavailableError: its dependencies are missing (with the install hint).
            BackendValidationError: it does not satisfy its protocol.
        """
        kind = BackendKind(kind)
        with self._lock:
            if (kind, name) in self._registered:
                return self._registered[(kind, name)]
            if (kind, name) in self._classes:
                return self._classes[(kind, name)]
            spec = self.spec(kind, name)
            avail = self.availability(spec)
            if not avail.available:
                raise BackendUnavailableError(
                    kind.value, name, avail.reason or "unavailable", install=avail.install
                )
            cls = self._import(spec)
            validate_backend_class(kind, name, cls, source=f"{spec.distribution} ({spec.target})")
            self._classes[(kind, name)] = cls
            logger.debug("loaded %s %r from %s", kind.value, name, spec.target)
            return cls

    def _import(self, spec: BackendSpec) -> type[Any]:
        module_name, _, attr = spec.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split(".") if attr else ():
                obj = getattr(obj, part)
        except ImportError as exc:
            raise BackendUnavailableError(
                spec.kind.value, spec.name, f"import failed: {exc}", install=spec.install_hint
            ) from exc
        except AttributeError as exc:
            raise BackendValidationError(
                spec.kind.value, spec.name, [f"{spec.target} does not exist"], source=spec.distribution
            ) from exc
        return obj  # type: ignore[no-any-return]

    def create(
        self, kind: BackendKind | str, name: str, options: Mapping[str, Any] | object | None = None
    ) -> Any:
        """A new, not yet loaded backend instance with typed options.

        Args:
            kind: The capability.
            name: The registered name.
            options: The backend's ``Options`` instance, or a mapping converted into one.

        Raises:
            UnknownBackendError: no such name.
            BackendConflictError: several distributions claim it.
            BackendUnavailableError: its dependencies are missing (with the install hint).
            BackendValidationError: it does not satisfy its protocol.
            ConfigError: invalid options.
        """
        kind = BackendKind(kind)
        cls = self.load_class(kind, name)
        options_cls = getattr(cls, "Options", None)
        if options_cls is None:
            if options:
                raise ConfigError(f"{kind.value} {name!r} takes no options", field=f"{kind.value}.options")
            return cls()
        if options is None:
            typed = options_cls()
        elif isinstance(options, Mapping):
            typed = build_options(kind, name, options_cls, options)
        elif isinstance(options, options_cls):
            typed = options
        else:
            raise ConfigError(
                f"options for {kind.value} {name!r} must be a mapping or {options_cls.__qualname__}",
                field=f"{kind.value}.options",
            )
        return cls(typed)


def validate_backend_class(kind: BackendKind, name: str, cls: object, *, source: str | None = None) -> None:
    """Check that ``cls`` can serve as a backend of ``kind``.

    Raises:
        BackendValidationError: listing every problem found.
    """
    problems: list[str] = []
    if not inspect.isclass(cls):
        raise BackendValidationError(kind.value, name, [f"{cls!r} is not a class"], source=source)
    method = required_method(kind)
    if not callable(getattr(cls, method, None)):
        problems.append(f"missing required method {method}()")
    api = getattr(cls, "plugin_api", None)
    if not isinstance(api, int):
        problems.append("missing class attribute plugin_api (int)")
    elif api != PLUGIN_API_VERSION:
        problems.append(f"written for plugin API {api}, this dubkit implements {PLUGIN_API_VERSION}")
    for lifecycle in ("load", "close", "__enter__", "__exit__"):
        if not callable(getattr(cls, lifecycle, None)):
            problems.append(f"missing {lifecycle}()")
    options_cls = getattr(cls, "Options", None)
    if options_cls is not None and not attrs.has(options_cls):
        problems.append("Options must be an attrs class")
    if problems:
        raise BackendValidationError(kind.value, name, problems, source=source)
