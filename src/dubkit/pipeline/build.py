"""Builds the standard 11-stage pipeline from a `PipelineConfig` and a backend registry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dubkit.backends.binding import BackendBinding
from dubkit.backends.catalog import DEFAULT_BACKENDS
from dubkit.backends.protocols import BackendKind, TranscriberBorrower
from dubkit.backends.registry import Registry
from dubkit.backends.translator_choice import AUTO, AUTO_TRANSLATORS, TranslatorChoice
from dubkit.errors import BackendConflictError, BackendUnavailableError, ConfigError, UnknownBackendError
from dubkit.media import MediaLimits
from dubkit.pipeline.pipeline import Pipeline
from dubkit.pipeline.stage import Stage
from dubkit.pipeline.warm import BackendSource, bind_backend
from dubkit.stages import (
    DiarizeStage,
    ExtractStage,
    FitOptions,
    FitStage,
    MixStage,
    MuxStage,
    ProbeStage,
    ReviewStage,
    SeparateStage,
    SynthesizeStage,
    TranscribeStage,
    TranslateStage,
    VadStage,
)

__all__ = ["PipelineConfig", "bind_backend", "bind_translators", "build_pipeline"]


class PipelineConfig(BaseModel):
    """Which backend runs each capability, with its options, plus run-wide settings.

    Backends are named by their registered name only (see ``dubkit backends``). The translator
    ``auto`` (the default) is chosen per language pair among the installed ones
    (`dubkit.backends.translator_choice`).
    """

    model_config = ConfigDict(extra="forbid")

    separator: str = DEFAULT_BACKENDS[BackendKind.SEPARATOR]
    vad: str = DEFAULT_BACKENDS[BackendKind.VAD]
    diarizer: str = DEFAULT_BACKENDS[BackendKind.DIARIZER]
    transcriber: str = DEFAULT_BACKENDS[BackendKind.TRANSCRIBER]
    translator: str = DEFAULT_BACKENDS[BackendKind.TRANSLATOR]
    synthesizer: str = DEFAULT_BACKENDS[BackendKind.SYNTHESIZER]
    backend_options: dict[BackendKind, dict[str, Any]] = Field(default_factory=dict)
    n_best: int = Field(default=1, ge=1, le=16)
    retries: int = Field(default=1, ge=0, le=10)
    max_stretch: float = Field(default=1.35, ge=1.0, le=3.0)
    target_lufs: float = Field(default=-16.0, ge=-70.0, le=0.0)
    max_file_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
    max_duration_seconds: float = Field(default=3 * 3600.0, gt=0)
    low_memory: bool = False
    """Free each stage's models as soon as it has run (one model in memory at a time)."""
    review: bool = False
    """Transcribe every dubbed line back and report its word error rate (a second transcription)."""
    vad_chunk_seconds: float = Field(default=60.0, gt=2.0)
    """Seconds of audio the VAD reads per call; each finished chunk is a checkpoint a rerun resumes from."""
    diarize_chunk_seconds: float = Field(default=300.0, gt=0)
    """Timeline seconds diarized per call (speakers then linked across chunks); each is a checkpoint."""
    transcribe_chunk_seconds: float = Field(default=120.0, gt=0)
    """Timeline seconds transcribed per call; each finished chunk is a checkpoint a rerun resumes from."""

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> PipelineConfig:
        """Validate settings from a CLI, a config file or a request.

        Raises:
            ConfigError: an unknown key or an invalid value (the error names the field).
        """
        try:
            return cls.model_validate(dict(values))
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"invalid pipeline setting {field!r}: {first['msg']}", field=field) from exc

    @classmethod
    def from_json_file(cls, path: Path, *, field: str = "config") -> PipelineConfig:
        """Settings from a JSON file holding an object of them (backend names and options, ...).

        Args:
            path: The file.
            field: The setting that named the file, reported in errors.

        Raises:
            ConfigError: The file cannot be read, is not a JSON object, or holds invalid settings.
        """
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read pipeline config {path}: {exc}", field=field) from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{path} must hold a JSON object of pipeline settings", field=field)
        return cls.from_mapping(data)

    def backend_name(self, kind: BackendKind) -> str:
        """The backend chosen for ``kind``."""
        return str(getattr(self, kind.value))


def _review_transcriber(
    registry: Registry, config: PipelineConfig, transcriber: BackendBinding[Any], source: BackendSource
) -> BackendBinding[Any]:
    """The transcriber the review stage hears the dub with.

    Reviewing packs many short clips into one decode; a Whisper that conditions on the previous text
    carries words from one line into the next, so when the backend has that option it is switched off
    (a second instance; with ``low_memory`` only one is loaded at a time).
    """
    name = config.backend_name(BackendKind.TRANSCRIBER)
    options_cls = getattr(registry.load_class(BackendKind.TRANSCRIBER, name), "Options", None)
    if options_cls is None or not attrs.has(options_cls):
        return transcriber
    if "condition_on_previous_text" not in attrs.fields_dict(options_cls):
        return transcriber
    options = {**config.backend_options.get(BackendKind.TRANSCRIBER, {}), "condition_on_previous_text": False}
    return source.bind(registry, BackendKind.TRANSCRIBER, name, options)


def bind_translators(
    registry: Registry, config: PipelineConfig, source: BackendSource | None = None
) -> TranslatorChoice:
    """The translator of a pipeline: the one ``config`` names, or the automatic choice per language pair.

    With ``translator="auto"`` every built-in translator of
    `dubkit.backends.translator_choice.AUTO_TRANSLATORS` that can run here is bound (not loaded). Its
    options are given per translator: ``backend_options["translator"] = {"nllb": {"model": ...}}``.

    Raises:
        UnknownBackendError: a named translator is not registered.
        BackendUnavailableError: a named translator cannot run here.
        ConfigError: invalid options (with ``auto``: options not given per translator).
    """
    source = source or _FreshBackends()
    given = config.backend_options.get(BackendKind.TRANSLATOR, {})
    if config.translator != AUTO:
        return TranslatorChoice.single(
            source.bind(registry, BackendKind.TRANSLATOR, config.translator, given)
        )
    flat = sorted(k for k, v in given.items() if not isinstance(v, Mapping))
    if flat:
        raise ConfigError(
            f"translator option {flat[0]!r} names no translator: with translator 'auto', give options per "
            'translator ({"nllb": {"model": "..."}}), or name the translator',
            field="translator.options",
        )
    bound: dict[str, BackendBinding[Any]] = {}
    entries: list[tuple[BackendBinding[Any], str | None, str]] = []
    hints: list[str] = []
    for step in AUTO_TRANSLATORS:
        if step.name not in bound:
            try:
                spec = registry.spec(BackendKind.TRANSLATOR, step.name)
            except (UnknownBackendError, BackendConflictError):
                continue
            availability = registry.availability(spec)
            if not availability.available:
                if availability.install and availability.install not in hints:
                    hints.append(availability.install)
                continue
            try:
                options = given.get(step.name)
                bound[step.name] = source.bind(registry, BackendKind.TRANSLATOR, step.name, options)
            except BackendUnavailableError as exc:
                if exc.install and exc.install not in hints:
                    hints.append(exc.install)
                continue
        entries.append((bound[step.name], step.model, step.note))
    return TranslatorChoice(entries, named=False, hints=hints)


class _FreshBackends:
    """The default `BackendSource`: a new, unloaded backend for every binding."""

    def bind(
        self, registry: Registry, kind: BackendKind, name: str, options: Mapping[str, Any] | None
    ) -> BackendBinding[Any]:
        return bind_backend(registry, kind, name, options)


def build_pipeline(
    config: PipelineConfig | None = None,
    *,
    registry: Registry | None = None,
    backends: BackendSource | None = None,
) -> Pipeline:
    """The standard 11-stage pipeline, with every backend resolved before any media is touched.

    The stages: probe, extract, separate, vad, diarize, transcribe, translate, synthesize, fit, mix, mux
    (plus review after fit when ``config.review`` is set).

    Every backend is resolved, imported and validated here, before any media is touched; weights are
    loaded only when a stage first needs them.

    Args:
        config: Backends and settings (default: the defaults).
        registry: Where backends are found (default: built-ins and installed plugins).
        backends: Where each stage's backend binding comes from; default: a new, unloaded backend each.
            A worker passes a `dubkit.pipeline.warm.WarmCheckout` to reuse models loaded by earlier jobs
            (and then releases the checkout instead of closing the pipeline).

    Raises:
        UnknownBackendError: a backend name is not registered (the error lists the known ones).
        BackendUnavailableError: a backend's extra is missing (the error names the pip command).
        BackendValidationError: a plugin breaks its protocol.
        ConfigError: invalid options.
    """
    config = config or PipelineConfig()
    registry = registry or Registry()
    source = backends or _FreshBackends()

    def bind(kind: BackendKind) -> BackendBinding[Any]:
        return source.bind(registry, kind, config.backend_name(kind), config.backend_options.get(kind))

    transcriber = bind(BackendKind.TRANSCRIBER)
    translators = bind_translators(registry, config, source)
    for binding in translators.bindings:
        if isinstance(binding.instance, TranscriberBorrower):
            binding.instance.borrow_transcriber(transcriber.instance)
    limits = MediaLimits(max_size=config.max_file_bytes, max_duration=config.max_duration_seconds)
    stages: list[Stage[Any]] = [
        ProbeStage(limits),
        ExtractStage(),
        SeparateStage(bind(BackendKind.SEPARATOR)),
        VadStage(bind(BackendKind.VAD), chunk_seconds=config.vad_chunk_seconds),
        DiarizeStage(bind(BackendKind.DIARIZER), chunk_seconds=config.diarize_chunk_seconds),
        TranscribeStage(transcriber, chunk_seconds=config.transcribe_chunk_seconds),
        TranslateStage(translators, n_best=config.n_best),
        SynthesizeStage(bind(BackendKind.SYNTHESIZER)),
        FitStage(FitOptions(max_stretch=config.max_stretch)),
        *([ReviewStage(_review_transcriber(registry, config, transcriber, source))] if config.review else []),
        MixStage(target_lufs=config.target_lufs),
        MuxStage(),
    ]
    return Pipeline(stages, retries=config.retries, release_backends=config.low_memory)
