"""The run directory: content-addressed stage artifacts and per-unit caches, written crash-safely.

Layout::

    <run_dir>/
      stages/<stage>-<key>/artifact.json   the stage's output (committed last: the commit marker)
      stages/<stage>-<key>/...             files the stage wrote
      units/<namespace>/<key>.<ext>        per-unit results (one synthesised clip, one translation)

A stage's key hashes its name, version, fingerprint (backend name, version, options, request fields)
and the digests of its input artifacts. ``artifact.json`` is written to a temp name, fsynced and
renamed after every file it references has been fsynced, so a crash leaves either a whole artifact
or none. Paths inside artifacts are stored relative to the run directory, so a run directory can be
moved or resumed on another machine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import cattrs

from dubkit.atomicfile import atomic_write_bytes, atomic_write_text, fsync_path
from dubkit.digests import file_sha256
from dubkit.errors import StorageError

__all__ = ["ArtifactStore", "UnitCache", "hash_file", "stable_hash"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_RUN_PREFIX = "@run/"
ARTIFACT_FILE = "artifact.json"
RECORD_FILE = "record.json"


def stable_hash(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value`` (sorted keys, no whitespace)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def hash_file(path: Path) -> str:
    """SHA-256 of a file's content (`dubkit.digests.file_sha256`)."""
    return file_sha256(path)


def _make_converter(root: Path) -> cattrs.Converter:
    converter = cattrs.Converter()
    resolved_root = root.resolve()

    def unstructure_path(path: Path) -> str:
        absolute = path if path.is_absolute() else (Path.cwd() / path)
        try:
            return _RUN_PREFIX + absolute.resolve().relative_to(resolved_root).as_posix()
        except ValueError:
            return str(absolute)

    def structure_path(value: str, _: type[Any]) -> Path:
        if value.startswith(_RUN_PREFIX):
            return resolved_root / value[len(_RUN_PREFIX) :]
        return Path(value)

    converter.register_unstructure_hook(Path, unstructure_path)
    converter.register_structure_hook(Path, structure_path)
    return converter


class UnitCache:
    """Results of single units of work (one clip, one translation), keyed by a hash of their inputs."""

    def __init__(self, directory: Path, converter: cattrs.Converter) -> None:
        self.directory = directory
        self._converter = converter

    def path(self, key: str, suffix: str) -> Path:
        """Where the unit's file lives (whether or not it exists yet)."""
        return self.directory / f"{key}{suffix}"

    def get(self, key: str, type_: type[T]) -> T | None:
        """A cached JSON value, or ``None``."""
        path = self.path(key, ".json")
        if not path.is_file():
            return None
        try:
            return self._converter.structure(json.loads(path.read_text(encoding="utf-8")), type_)
        except (ValueError, cattrs.BaseValidationError, KeyError, TypeError):
            logger.warning("ignoring unreadable unit cache entry %s", path)
            return None

    def put(self, key: str, value: Any) -> None:
        """Store a JSON value atomically."""
        self.directory.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.path(key, ".json"), json.dumps(self._converter.unstructure(value)))

    @contextmanager
    def writing(self, key: str, suffix: str) -> Iterator[Path]:
        """Yield a temp path to write the unit's file to; it is fsynced and renamed into place on success."""
        self.directory.mkdir(parents=True, exist_ok=True)
        final = self.path(key, suffix)
        tmp = final.with_name(f".{final.stem}.{os.getpid()}.tmp{suffix}")
        try:
            yield tmp
            fsync_path(tmp)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)


class ArtifactStore:
    """Stage artifacts of one run directory.

    Args:
        root: The run directory; created if missing.
    """

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        try:
            (self.root / "stages").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create run directory: {exc}", url=str(self.root)) from exc
        self.converter = _make_converter(self.root)

    @staticmethod
    def stage_key(
        stage: str, version: str, fingerprint: Mapping[str, Any], input_digests: Mapping[str, str]
    ) -> str:
        """The content address of a stage's artifact."""
        return stable_hash(
            {"stage": stage, "version": version, "fingerprint": fingerprint, "inputs": dict(input_digests)}
        )[:24]

    def stage_dir(self, stage: str, key: str) -> Path:
        """The folder of one stage artifact."""
        return self.root / "stages" / f"{stage}-{key}"

    def load(self, stage: str, key: str, type_: type[T]) -> tuple[T, str] | None:
        """The committed artifact and its digest, or ``None`` when absent, unreadable or missing a file."""
        marker = self.stage_dir(stage, key) / ARTIFACT_FILE
        if not marker.is_file():
            return None
        raw = marker.read_bytes()
        try:
            data = json.loads(raw)
            value = self.converter.structure(data["value"], type_)
        except (ValueError, KeyError, TypeError, cattrs.BaseValidationError):
            logger.warning("artifact %s is unreadable; the stage will run again", marker)
            return None
        missing = [p for p in _paths_in(data["value"]) if not (self.root / p).exists()]
        if missing:
            logger.warning(
                "artifact %s references missing files %s; the stage will run again", marker, missing
            )
            return None
        return value, hashlib.sha256(raw).hexdigest()

    def begin(self, stage: str, key: str) -> Path:
        """A clean folder for a stage about to run (leftovers of a crashed attempt are removed)."""
        directory = self.stage_dir(stage, key)
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        return directory

    def commit(self, stage: str, key: str, value: Any) -> str:
        """Persist ``value`` as the stage's artifact after fsyncing its files; returns its digest."""
        directory = self.stage_dir(stage, key)
        unstructured = self.converter.unstructure(value)
        for rel in _paths_in(unstructured):
            target = self.root / rel
            if target.is_file():
                fsync_path(target)
        payload = json.dumps({"stage": stage, "key": key, "value": unstructured}, indent=1).encode("utf-8")
        atomic_write_bytes(directory / ARTIFACT_FILE, payload)
        return hashlib.sha256(payload).hexdigest()

    def save_record(self, stage: str, key: str, record: Mapping[str, Any]) -> None:
        """Keep how a committed artifact was made beside it (not part of the artifact or its digest).

        A record that cannot be written is logged and left out: it never fails the stage.
        """
        try:
            atomic_write_text(self.stage_dir(stage, key) / RECORD_FILE, json.dumps(dict(record), indent=1))
        except (OSError, TypeError, ValueError) as exc:
            logger.warning("could not keep the record of %s-%s: %s", stage, key, exc)

    def load_record(self, stage: str, key: str) -> dict[str, Any]:
        """What `save_record` kept for an artifact; empty when nothing was, or it is unreadable."""
        try:
            data = json.loads((self.stage_dir(stage, key) / RECORD_FILE).read_bytes())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def units(self, namespace: str) -> UnitCache:
        """The unit cache of one namespace (``synthesize``, ``translate``)."""
        return UnitCache(self.root / "units" / namespace, self.converter)

    def sweep_temp_files(self) -> int:
        """Remove temp files left by crashed writes; returns how many were removed."""
        removed = 0
        for path in self.root.rglob(".*.tmp*"):
            if path.is_file():
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _paths_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if value.startswith(_RUN_PREFIX):
            yield value[len(_RUN_PREFIX) :]
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _paths_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _paths_in(item)
