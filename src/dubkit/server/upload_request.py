"""The text fields of an upload, checked: languages and backend names."""

from __future__ import annotations

import attrs

from dubkit.backends.protocols import BackendKind
from dubkit.backends.registry import Registry
from dubkit.backends.translator_choice import AUTO
from dubkit.errors import ConfigError, UnknownBackendError
from dubkit.models.languages import get_language

__all__ = ["BACKEND_FIELDS", "MAX_TARGETS", "UploadRequest", "parse_upload_fields"]

BACKEND_FIELDS = ("separator", "vad", "diarizer", "transcriber", "translator", "synthesizer")
"""Form fields that name a backend (each a `BackendKind`); they go to ``job_metadata["backends"]``."""
MAX_TARGETS = 8


@attrs.frozen
class UploadRequest:
    """What an upload asks for.

    Attributes:
        source_language: An ISO 639-1 code, or ``auto``.
        target_languages: One or more ISO 639-1 codes, in the order asked, without repeats.
        backends: Backend names chosen by the client, by kind.
    """

    source_language: str
    target_languages: tuple[str, ...]
    backends: dict[str, str]


def _one(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name, [])
    if len(values) > 1:
        raise ConfigError(f"send {name!r} once", field=name)
    return values[0].strip() if values else None


def parse_upload_fields(fields: dict[str, list[str]], registry: Registry) -> UploadRequest:
    """Check the upload's fields.

    Raises:
        UnknownLanguageError: A language dubkit does not know (the error lists the supported codes).
        UnknownBackendError: A backend name not registered for its kind.
        ConfigError: No target language, too many, or a target equal to the source.
    """
    source = _one(fields, "source_language") or "auto"
    source = "auto" if source.lower() == "auto" else get_language(source).code
    targets: list[str] = []
    for value in fields.get("target_language", []):
        for part in value.split(","):
            if part.strip():
                code = get_language(part).code
                if code not in targets:
                    targets.append(code)
    if not targets:
        raise ConfigError("name at least one target_language", field="target_language")
    if len(targets) > MAX_TARGETS:
        raise ConfigError(f"at most {MAX_TARGETS} target languages per upload", field="target_language")
    if source in targets:
        raise ConfigError(f"target language {source!r} is the source language", field="target_language")
    backends: dict[str, str] = {}
    for kind in BACKEND_FIELDS:
        name = _one(fields, kind)
        if not name:
            continue
        if kind == "translator" and name == AUTO:
            backends[kind] = name  # the best installed translator for each pair
            continue
        known = registry.names(BackendKind(kind))
        if name not in known:
            raise UnknownBackendError(kind, name, known)
        backends[kind] = name
    return UploadRequest(source_language=source, target_languages=tuple(targets), backends=backends)
