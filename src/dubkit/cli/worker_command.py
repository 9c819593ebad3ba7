"""``dubkit worker``: work through the job queue of a SQLite job store, or of a Redis broker."""

from __future__ import annotations

import contextlib
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from dubkit.cli import app, console, fail
from dubkit.errors import ConfigError, DubkitError

if TYPE_CHECKING:
    from dubkit.jobs.pipelines import WarmPipelines
    from dubkit.pipeline.build import PipelineConfig

__all__ = ["worker"]


def _config(path: Path | None) -> PipelineConfig:
    """The pipeline settings from a JSON file (backend names and options only), or the defaults.

    Raises:
        ConfigError: the file cannot be read or holds invalid settings.
    """
    from dubkit.pipeline.build import PipelineConfig

    if path is None:
        return PipelineConfig(low_memory=False)
    return PipelineConfig.from_json_file(path)


def _stop_on_signals() -> threading.Event:
    """An event set by SIGTERM or SIGINT (Ctrl-C)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    return stop


def _run_broker(
    broker: str,
    pipelines: WarmPipelines,
    work_root: Path,
    options: Any,
    storage_url: str | None,
) -> None:
    from dubkit.jobs.dramatiq_worker import run_worker

    run_worker(
        broker,
        pipelines,
        work_root=work_root,
        stop=_stop_on_signals(),
        options=options,
        storage_url=storage_url,
        ready=lambda name: console.print(
            f"worker ready: {options.threads} thread(s) on the Redis broker as {name}; Ctrl-C to stop"
        ),
    )
    console.print("worker stopped")


def _broker_options(threads: int, max_attempts: int, heartbeat: float, maintenance: float) -> Any:
    try:
        from dubkit.jobs.dramatiq_worker import WorkerOptions
    except ImportError as exc:
        raise ConfigError(
            f"the Redis worker needs the distributed extra: {exc}", hint="pip install 'dubkit[distributed]'"
        ) from exc
    return WorkerOptions(
        threads=threads,
        max_attempts=max_attempts,
        heartbeat_timeout_s=heartbeat,
        maintenance_interval_s=maintenance,
    )


@app.command()
def worker(
    db: Annotated[Optional[Path], typer.Option(help="The job store (SQLite file).")] = None,  # noqa: UP045
    storage: Annotated[Optional[str], typer.Option(help="Storage URL (file:///..., s3://...).")] = None,  # noqa: UP045
    config: Annotated[
        Optional[Path], typer.Option(help="Pipeline settings as JSON (backend names and options).")  # noqa: UP045
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker threads.")] = 1,
    until_idle: Annotated[bool, typer.Option(help="Stop when no job is left instead of waiting.")] = False,
    broker: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Redis URL: take jobs from the Dramatiq queue there instead of a job store."),
    ] = None,
    model_memory_budget: Annotated[
        str, typer.Option(help="Memory for models kept loaded between jobs (e.g. 2GB, 512MiB).")
    ] = "4GiB",
    max_attempts: Annotated[int, typer.Option(min=1, max=100, help="Attempts of a job before it fails.")] = 3,
    heartbeat_timeout: Annotated[
        float,
        typer.Option(
            min=0.1,
            help="With --broker: seconds of silence after which a worker is dead (its job goes to another).",
        ),
    ] = 15.0,
    maintenance_interval: Annotated[
        float,
        typer.Option(min=0.1, help="With --broker: seconds between passes that requeue dead workers' jobs."),
    ] = 5.0,
) -> None:
    """Dub queued jobs on this machine, keeping models warm between jobs (Ctrl-C stops gracefully).

    With --broker, the worker's work folder is <data-dir>/worker: give each worker its own data folder.
    """
    from dubkit.jobs import InProcessRunner
    from dubkit.jobs.job_context import install_job_logging
    from dubkit.jobs.pipelines import WarmPipelines
    from dubkit.pipeline.warm import parse_memory_size
    from dubkit.settings import Settings
    from dubkit.storage import FsspecStorage

    settings = Settings()
    work_root = settings.data_dir / "work"
    try:
        if broker is not None:
            if until_idle:
                raise ConfigError(
                    "--until-idle works with a job store, not with --broker", field="until_idle"
                )
            options = _broker_options(workers, max_attempts, heartbeat_timeout, maintenance_interval)
            install_job_logging()
            pipelines = WarmPipelines(_config(config), memory_budget=parse_memory_size(model_memory_budget))
            pipelines.validate()
            storage_url = storage or settings.storage_url
            _run_broker(broker, pipelines, settings.data_dir / "worker", options, storage_url)
            return
        pipelines = WarmPipelines(_config(config), memory_budget=parse_memory_size(model_memory_budget))
        pipelines.validate()
        install_job_logging()
        db_path = db or settings.data_dir / "jobs.db"
        storage_url = storage or settings.storage_url or (settings.data_dir / "files").as_uri()
        runner = InProcessRunner(
            db_path,
            FsspecStorage(storage_url),
            pipelines,
            work_root=work_root,
            workers=workers,
            max_attempts=max_attempts,
        )
        if until_idle:
            stats = runner.run_until_idle()
        else:
            stop = _stop_on_signals()
            with runner:
                console.print(
                    f"worker: {workers} thread(s) on {db_path}, storage {storage_url}; Ctrl-C to stop"
                )
                with contextlib.suppress(KeyboardInterrupt):
                    stop.wait()
            stats = runner.stats
    except DubkitError as exc:
        raise fail(exc) from None
    console.print(
        f"completed: {stats.completed}, failed: {stats.failed}, retried: {stats.retried}, "
        f"cancelled: {stats.cancelled}"
    )
