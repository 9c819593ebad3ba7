"""One attempt at a job, shared by both runners: download the input, dub it, upload the outputs.

The runners differ only in how they learn of a job (a store claim or a queue message), where its events go
(subscribers and SQLite, or a Redis stream) and who records the outcome; the work itself is `perform`.

A job's first dub makes result version 1 under ``<owner>/<job_id>/output/``; each re-dub after edits
(`dubkit.jobs.redub_step`) makes the next version under ``output-v<N>/``, while the version before it stays
where it is (and downloadable) until the new one completes. The run directory's mirror in storage is kept
when a job completes: it is what a re-dub resumes from on any worker.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from pathlib import Path, PurePath

import attrs

from dubkit.errors import (
    BackendConflictError,
    BackendUnavailableError,
    BackendValidationError,
    ConfigError,
    DubkitError,
    MediaError,
    StorageError,
    UnknownBackendError,
)
from dubkit.jobs.checkpoints import RunCheckpoints, discard_checkpoints
from dubkit.jobs.pipelines import JobPipelines
from dubkit.jobs.redub_step import prune_replaced_stages, redub
from dubkit.jobs.ticket import JobTicket
from dubkit.pipeline.progress import CancelToken, ProgressEvent, ProgressHook, ProgressState
from dubkit.storage.links import put_linked
from dubkit.storage.paths import job_prefix, validate_segment
from dubkit.storage.protocol import Storage

__all__ = [
    "PERMANENT_ERRORS",
    "JobOutput",
    "describe_error",
    "forget_run",
    "input_file_name",
    "output_prefix",
    "perform",
    "remove_outputs",
]

logger = logging.getLogger(__name__)

PERMANENT_ERRORS: tuple[type[Exception], ...] = (
    MediaError,
    ConfigError,
    UnknownBackendError,
    BackendUnavailableError,
    BackendValidationError,
    BackendConflictError,
)
"""Errors another attempt cannot fix (a bad input, an invalid choice): the job fails for good."""


@attrs.frozen
class JobOutput:
    """Where a finished job's dubbed media went."""

    media_key: str
    media_size: int


def output_prefix(owner: str, job_id: str, version: int = 1) -> str:
    """The storage prefix of a job's outputs: ``<owner>/<job_id>/output/``, ``output-v<N>/`` for version N."""
    return job_prefix(owner, job_id) + ("output/" if version <= 1 else f"output-v{version}/")


def input_file_name(original: str) -> str:
    """A safe local file name for the input: the original name when it is a plain one, else ``input``."""
    name = PurePath(original.replace("\\", "/")).name
    try:
        validate_segment(name)
    except DubkitError:
        return "input"
    if name.startswith(".") or len(name) > 200:
        return "input" + PurePath(name).suffix[:16]
    return name


def describe_error(exc: BaseException) -> str:
    """A failed attempt's reason for the owner: a dubkit error's message, else the type and text."""
    if isinstance(exc, DubkitError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def perform(
    ticket: JobTicket,
    *,
    storage: Storage,
    pipelines: JobPipelines,
    work: Path,
    cancel: CancelToken,
    progress: ProgressHook,
    uploading: Callable[[], None],
) -> JobOutput:
    """Dub one job in ``work`` and upload its outputs under `output_prefix` (the media last).

    The pipeline's run directory is ``work/run``, mirrored to storage after every stage that commits
    (`RunCheckpoints`), so an attempt after a crash resumes from the finished stages on the same machine or
    on any other that shares the storage. Outputs are written with atomic storage writes, so each is whole
    or absent; a retried attempt overwrites them with the same bytes. The mirror stays once the outputs are
    up, for re-dubs after edits. A ticket with a re-dub step runs the edited project instead
    (`dubkit.jobs.redub_step`) and uploads the next result version.

    Args:
        ticket: The job.
        storage: Where the input is and the outputs go.
        pipelines: Gives the job's pipeline (the worker's settings plus the job's backend choices).
        work: The job's local work folder.
        cancel: Checked between units of work and between uploads.
        progress: Receives the pipeline's progress.
        uploading: Called once the dub is done, before the uploads.

    Returns:
        The media's key and size.

    Raises:
        ConfigError: The job has no input, its input is missing, or its backend choices are invalid.
        CancelledError: ``cancel`` was cancelled.
        DubkitError: What the pipeline raised.
    """
    if not ticket.input_key:
        raise ConfigError(f"job {ticket.job_id} has no input", field="input_path")
    if not storage.exists(ticket.input_key):
        raise ConfigError(f"the input of job {ticket.job_id} is missing from storage", field="input_path")
    name = input_file_name(ticket.original_filename or PurePath(ticket.input_key).name)
    local = work / "input" / name
    storage.get_file(ticket.input_key, local)
    cancel.raise_if_cancelled()
    checkpoints = RunCheckpoints(storage, ticket.owner, ticket.job_id, work / "run")
    restored = checkpoints.restore()
    if restored:
        logger.info("job %s: %d run file(s) restored from storage", ticket.job_id, restored)

    def checkpointing(event: ProgressEvent) -> None:
        progress(event)
        if event.state is ProgressState.FINISHED:
            try:
                checkpoints.save()
            except StorageError:
                logger.warning("job %s: could not checkpoint %s", ticket.job_id, event.stage, exc_info=True)

    language = None if ticket.source_language in (None, "", "auto") else ticket.source_language
    with pipelines.open(ticket.backends) as pipeline:
        if ticket.redub is not None:
            result = redub(
                pipeline,
                ticket,
                storage=storage,
                source=local,
                run_dir=work / "run",
                progress=checkpointing,
                cancel=cancel,
            )
        else:
            request = pipeline.make_request(local, to=ticket.target_language, source_language=language)
            result = pipeline.execute(request, run_dir=work / "run", progress=checkpointing, cancel=cancel)
    uploading()
    out_dir = work / "output"
    shutil.rmtree(out_dir, ignore_errors=True)
    exported = result.export(out_dir, stem=PurePath(name).stem)
    prefix = output_prefix(ticket.owner, ticket.job_id, ticket.version)
    media_size = 0
    for path in (exported.srt, exported.vtt, exported.project, exported.media):  # media last
        cancel.raise_if_cancelled("upload")
        size = put_linked(storage, path, prefix + validate_segment(path.name, what="output name"))
        if path == exported.media:
            media_size = size
    cancel.raise_if_cancelled("upload")
    if ticket.redub is not None:
        prune_replaced_stages(result, storage, ticket)
    return JobOutput(prefix + exported.media.name, media_size)


def remove_outputs(storage: Storage, owner: str, job_id: str, version: int = 1) -> None:
    """Remove the (partial) outputs of one result version; a failure is logged, not raised.

    For version 1 (a first dub that did not complete) the run checkpoints go too; a re-dub's version
    leaves them, and the versions before it, in place: the job keeps its last result, editable.
    """
    try:
        storage.delete(output_prefix(owner, job_id, version).rstrip("/"), recursive=True)
    except StorageError:
        logger.warning("job %s: could not remove its outputs", job_id, exc_info=True)
    if version <= 1:
        discard_checkpoints(storage, owner, job_id)


def forget_run(storage: Storage, ticket: JobTicket) -> None:
    """A job's attempt failed for good: remove its run checkpoints, unless it keeps an earlier result.

    A failed re-dub leaves the job with its last result, which stays editable, so its run mirror stays.
    """
    if ticket.redub is None:
        discard_checkpoints(storage, ticket.owner, ticket.job_id)
