"""The pipeline each job runs with: the worker's base settings plus the job's own backend choices.

A runner asks a `JobPipelines` for a job's pipeline with `JobPipelines.open` and gives it back when the job
ends. `WarmPipelines` (what the runners make of a `PipelineConfig`) builds every job's pipeline on a
`dubkit.pipeline.warm.WarmBackends` cache shared by the worker's threads, so a second job with the same
backends does not load their models again, and each loaded backend serves one job at a time.
`FixedPipelines` keeps the older way: one pipeline per worker thread from a factory, with no per-job
choices.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Protocol

from dubkit.backends.registry import Registry
from dubkit.errors import BackendError, ConfigError
from dubkit.pipeline.build import PipelineConfig, build_pipeline
from dubkit.pipeline.pipeline import Pipeline
from dubkit.pipeline.warm import DEFAULT_MEMORY_BUDGET, WarmBackends

__all__ = [
    "CHOOSABLE_BACKENDS",
    "FixedPipelines",
    "JobPipelines",
    "PipelineSource",
    "WarmPipelines",
    "as_job_pipelines",
    "config_for_job",
]

CHOOSABLE_BACKENDS = ("separator", "vad", "diarizer", "transcriber", "translator", "synthesizer")
"""The `PipelineConfig` fields a job may choose (``job_metadata["backends"]`` keys)."""


class JobPipelines(Protocol):
    """Hands out the pipeline of one job at a time per caller (thread-safe)."""

    def open(self, backends: Mapping[str, str]) -> AbstractContextManager[Pipeline]:
        """The pipeline for a job with these backend choices, for the length of the ``with`` block.

        Raises:
            ConfigError: A choice names an unknown field or backend, or one that cannot run here.
        """

    def close(self) -> None:
        """Free every backend still loaded."""


PipelineSource = PipelineConfig | JobPipelines | Callable[[], Pipeline]
"""What the runners accept: settings (warm per-job pipelines), a `JobPipelines`, or a pipeline factory."""


def config_for_job(base: PipelineConfig, backends: Mapping[str, str]) -> PipelineConfig:
    """``base`` with a job's backend choices in place of its own.

    Raises:
        ConfigError: A key is not one of `CHOOSABLE_BACKENDS`, or a value is not a name.
    """
    unknown = sorted(set(backends) - set(CHOOSABLE_BACKENDS))
    if unknown:
        raise ConfigError(
            f"unknown backend choice {unknown[0]!r}",
            field="backends",
            hint=f"choose among: {', '.join(CHOOSABLE_BACKENDS)}",
        )
    for field, name in backends.items():
        if not isinstance(name, str) or not name:
            raise ConfigError(
                f"the {field} choice must be a backend name, got {name!r}", field=f"backends.{field}"
            )
    return base.model_copy(update=dict(backends))


class WarmPipelines:
    """Per-job pipelines on one cache of warm backends (see the module notes).

    Args:
        config: The worker's settings; a job's choices replace its backend names (not their options; a
            chosen backend runs with the options ``config`` gives that kind, when it is the same backend,
            else with its defaults).
        registry: Where backends are found (default: built-ins and installed plugins).
        memory_budget: Bytes of idle loaded backends to keep between jobs.
        cache: The cache to use (default: a new one with ``memory_budget``).
    """

    def __init__(
        self,
        config: PipelineConfig | None = None,
        *,
        registry: Registry | None = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        cache: WarmBackends | None = None,
    ) -> None:
        self.config = config or PipelineConfig()
        self.registry = registry or Registry()
        self.cache = cache or WarmBackends(memory_budget)

    def __repr__(self) -> str:
        return f"WarmPipelines({self.cache!r})"

    @contextmanager
    def open(self, backends: Mapping[str, str]) -> Iterator[Pipeline]:
        """The job's pipeline; its backends go back to the cache, still loaded, when the block ends.

        Raises:
            ConfigError: A choice names an unknown field or backend, one whose extra is missing here, or a
                broken plugin (the job fails for good; the worker goes on).
        """
        config = self._config(backends)
        with self.cache.checkout() as checkout:
            try:
                pipeline = build_pipeline(config, registry=self.registry, backends=checkout)
            except BackendError as exc:
                raise ConfigError(
                    f"cannot use the chosen backends: {exc.message}", field="backends", hint=exc.hint
                ) from exc
            yield pipeline

    def validate(self) -> None:
        """Resolve and check the worker's own backends now (nothing is loaded).

        Raises:
            UnknownBackendError: A backend name is not registered.
            BackendUnavailableError: A backend's extra is missing.
            BackendValidationError: A plugin breaks its protocol.
            ConfigError: Invalid options.
        """
        build_pipeline(self.config, registry=self.registry)

    def _config(self, backends: Mapping[str, str]) -> PipelineConfig:
        config = config_for_job(self.config, backends)
        options = {
            kind: values
            for kind, values in config.backend_options.items()
            if config.backend_name(kind) == self.config.backend_name(kind)
        }
        return config.model_copy(update={"backend_options": options})

    def close(self) -> None:
        """Close every warm backend."""
        self.cache.close()


class FixedPipelines:
    """One pipeline per worker thread from ``factory``, kept warm across that thread's jobs.

    Jobs with backend choices fail (the factory decides the backends); use `WarmPipelines` to honour them.
    """

    def __init__(self, factory: Callable[[], Pipeline]) -> None:
        self._factory = factory
        self._local = threading.local()
        self._lock = threading.Lock()
        self._built: list[Pipeline] = []

    @contextmanager
    def open(self, backends: Mapping[str, str]) -> Iterator[Pipeline]:
        """This thread's pipeline.

        Raises:
            ConfigError: The job chose backends.
        """
        if backends:
            raise ConfigError(
                "this worker runs a fixed pipeline and cannot honour the job's backend choices",
                field="backends",
            )
        pipeline: Pipeline | None = getattr(self._local, "pipeline", None)
        if pipeline is None:
            pipeline = self._factory()
            self._local.pipeline = pipeline
            with self._lock:
                self._built.append(pipeline)
        yield pipeline

    def close(self) -> None:
        """Close every pipeline built so far."""
        with self._lock:
            built, self._built = self._built, []
        for pipeline in built:
            pipeline.close()


def as_job_pipelines(source: PipelineSource) -> JobPipelines:
    """`WarmPipelines` for a `PipelineConfig` (checked now), `FixedPipelines` for a factory, else as is.

    Raises:
        BackendError: A backend of the `PipelineConfig` cannot be used (see `WarmPipelines.validate`).
        ConfigError: Its options are invalid.
    """
    if isinstance(source, PipelineConfig):
        pipelines = WarmPipelines(source)
        pipelines.validate()
        return pipelines
    if hasattr(source, "open") and hasattr(source, "close"):
        return source
    return FixedPipelines(source)
