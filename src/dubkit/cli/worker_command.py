"""``dubkit worker``: work through the job queue of a SQLite job store on this machine."""

from __future__ import annotations

import contextlib
import json
import signal
import threading
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from dubkit.cli import app, console, fail
from dubkit.errors import ConfigError, DubkitError
from dubkit.jobs import InProcessRunner
from dubkit.pipeline.build import PipelineConfig, build_pipeline
from dubkit.settings import Settings
from dubkit.storage import FsspecStorage

__all__ = ["worker"]


def _config(path: Path | None) -> PipelineConfig:
    """The pipeline settings from a JSON file (backend names and options only), or the defaults.

    Raises:
        ConfigError: the file cannot be read or holds invalid settings.
    """
    if path is None:
        return PipelineConfig(low_memory=False)
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read pipeline config {path}: {exc}", field="config") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object of pipeline settings", field="config")
    return PipelineConfig.from_mapping(data)


@app.command()
def worker(
    db: Annotated[Optional[Path], typer.Option(help="The job store (SQLite file).")] = None,  # noqa: UP045
    storage: Annotated[Optional[str], typer.Option(help="Storage URL (file:///..., s3://...).")] = None,  # noqa: UP045
    config: Annotated[
        Optional[Path], typer.Option(help="Pipeline settings as JSON (backend names and options).")  # noqa: UP045
    ] = None,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker threads.")] = 1,
    until_idle: Annotated[bool, typer.Option(help="Stop when no job is left instead of waiting.")] = False,
) -> None:
    """Dub queued jobs on this machine, keeping models warm between jobs (Ctrl-C stops gracefully)."""
    settings = Settings()
    db_path = db or settings.data_dir / "jobs.db"
    storage_url = storage or settings.storage_url or (settings.data_dir / "files").as_uri()
    try:
        pipeline_config = _config(config)
        runner = InProcessRunner(
            db_path,
            FsspecStorage(storage_url),
            lambda: build_pipeline(pipeline_config),
            work_root=settings.data_dir / "work",
            workers=workers,
        )
        if until_idle:
            stats = runner.run_until_idle()
        else:
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
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
