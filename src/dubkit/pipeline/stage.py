"""The stage contract: typed artifact keys, the run request, and the `Stage` protocol.

A stage declares the artifacts it reads (``inputs``) and the one it writes (``output``), each an
`ArtifactKey` carrying the artifact's type. The pipeline checks before any work that every
input is produced by an earlier stage, hashes a stage's inputs and `Stage.fingerprint` into
the key of its artifact, and skips the stage when that artifact already exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

import attrs

from dubkit.errors import StageError
from dubkit.models.speech import Voice

if TYPE_CHECKING:
    from dubkit.pipeline.context import StageContext

__all__ = ["ArtifactKey", "Artifacts", "BaseStage", "RunRequest", "SourceFile", "Stage"]

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


@attrs.frozen(slots=True)
class ArtifactKey(Generic[T]):
    """The name and type of an artifact that stages pass along (``ArtifactKey("transcript", Transcript)``)."""

    name: str
    type: Any = attrs.field(eq=False, hash=False)

    def __repr__(self) -> str:
        return f"ArtifactKey({self.name!r})"


class Artifacts:
    """Artifacts produced so far in a run, looked up by key with their type."""

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self._values: dict[str, Any] = dict(values or {})

    def __getitem__(self, key: ArtifactKey[T]) -> T:
        try:
            return self._values[key.name]  # type: ignore[no-any-return]
        except KeyError:
            raise StageError(key.name, f"artifact {key.name!r} was not produced") from None

    def get(self, key: ArtifactKey[T]) -> T | None:
        """The artifact, or ``None`` when the run has not produced it."""
        return self._values.get(key.name)

    def __contains__(self, key: ArtifactKey[Any]) -> bool:
        return key.name in self._values

    def set(self, key: ArtifactKey[T], value: T) -> None:
        """Record an artifact."""
        self._values[key.name] = value

    def names(self) -> list[str]:
        """Names of the artifacts present."""
        return list(self._values)


@attrs.frozen(slots=True)
class SourceFile:
    """The input media file and its content hash (the root of every cache key)."""

    path: Path
    sha256: str
    size: int


@attrs.frozen(slots=True)
class RunRequest:
    """What one run is asked to do.

    Attributes:
        source: The input file.
        target_language: ISO 639-1 code to dub into.
        source_language: ISO 639-1 code of the speech, or ``None`` to detect it.
        translation_edits: Segment id -> human-edited translation (from a dub project).
        voice_edits: Speaker label -> voice (from a dub project).
        keep_original: Segment ids whose original speech plays instead of a dubbed line (from a dub
            project), sorted.
        keep_gain_db: On a re-dub, the mix gain of the result it replaces (kept while the loudness stays
            near the target, so that untouched parts of the dub stay the same bytes).
        strict: Fail the run on the first failed segment instead of completing a partial dub.
    """

    source: SourceFile
    target_language: str
    source_language: str | None = None
    translation_edits: tuple[tuple[str, str], ...] = ()
    voice_edits: tuple[tuple[str, Voice], ...] = ()
    keep_original: tuple[str, ...] = ()
    keep_gain_db: float | None = None
    strict: bool = False


class Stage(Protocol[T_co]):
    """One step of the pipeline. Implementations should subclass `BaseStage`.

    Attributes:
        name: Unique name within a pipeline (``transcribe``).
        version: Bump to invalidate every artifact this stage wrote before.
        inputs: The artifacts it reads.
        output: The artifact it writes.
    """

    name: str
    version: str

    @property
    def inputs(self) -> tuple[ArtifactKey[Any], ...]:
        """The artifacts this stage reads."""
        ...

    @property
    def output(self) -> ArtifactKey[Any]:
        """The artifact this stage writes."""
        ...

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """JSON-able settings that change the output: backend name, version, options, request fields."""
        ...

    def validate(self, request: RunRequest) -> None:
        """Check the request before any work (languages, options); raise a ConfigError."""
        ...

    def run(self, ctx: StageContext, inputs: Artifacts) -> T_co:
        """Do the work and return the output artifact."""
        ...

    def close(self) -> None:
        """Free backends this stage loaded."""
        ...


class BaseStage(Generic[T]):
    """Defaults for the optional parts of `Stage`."""

    name: str = ""
    version: str = "1"
    inputs: tuple[ArtifactKey[Any], ...] = ()
    output: ArtifactKey[T]

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        """No settings by default."""
        return {}

    def validate(self, request: RunRequest) -> None:
        """Nothing to check by default."""

    def close(self) -> None:
        """Nothing to free by default."""

    def __repr__(self) -> str:
        return f"<stage {self.name}>"
