"""The re-dub step of a completed job: its edited dub project run again on the job's run directory.

A re-dub is queued like a dub (`dubkit.jobs.store.JobStore.request_redub`) and claimed by the same
runners (in-process or Dramatiq workers); `dubkit.jobs.attempt.perform` hands it here. The job's run
directory survives the first dub (on the worker's disk, and mirrored to storage for any other worker:
`dubkit.jobs.checkpoints`), so `dubkit.pipeline.Pipeline.redub` redoes only what the edits touch: the
edited lines' translation and voice, the timing plan, the mix blocks and AAC blocks the changed clips
reach, and the mux.

After a re-dub the stage folders it replaced (the previous mix, mux, ...) are removed from the run
directory and its mirror, so a job edited many times keeps one set of stage artifacts; the unit caches
(clips, mixed blocks, AAC blocks) stay, and grow by what each edit made.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from dubkit.errors import ConfigError, StorageError
from dubkit.jobs.checkpoints import checkpoint_prefix
from dubkit.jobs.ticket import JobTicket
from dubkit.models.project import DubProject
from dubkit.pipeline.cache import ARTIFACT_FILE
from dubkit.pipeline.pipeline import Pipeline
from dubkit.pipeline.progress import CancelToken, ProgressHook
from dubkit.pipeline.result import DubResult
from dubkit.storage.protocol import Storage

__all__ = ["MAX_PROJECT_BYTES", "load_redub_project", "prune_replaced_stages", "redub"]

logger = logging.getLogger(__name__)

MAX_PROJECT_BYTES = 64 * 1024 * 1024
"""The largest dub project a re-dub reads from storage."""


def load_redub_project(storage: Storage, key: str) -> DubProject:
    """The edited project a re-dub runs, read from storage.

    Raises:
        ConfigError: it is missing, too large, or not a dub project (the re-dub cannot run).
    """
    try:
        size = storage.size(key)
        if size > MAX_PROJECT_BYTES:
            raise ConfigError(
                f"the re-dub's project is {size} bytes; at most {MAX_PROJECT_BYTES}", field="project"
            )
        with storage.open_read(key) as handle:
            data = handle.read()
    except StorageError as exc:
        raise ConfigError(f"the re-dub's project cannot be read: {exc}", field="project") from exc
    try:
        return DubProject.model_validate_json(data)
    except ValueError as exc:
        raise ConfigError(f"the re-dub's project is not a valid dub project: {exc}", field="project") from exc


def redub(
    pipeline: Pipeline,
    ticket: JobTicket,
    *,
    storage: Storage,
    source: Path,
    run_dir: Path,
    progress: ProgressHook,
    cancel: CancelToken,
) -> DubResult:
    """Run a job's re-dub step: its edited project on its run directory.

    Raises:
        ConfigError: the ticket is not a re-dub, or its project cannot be read or does not match the input.
        CancelledError: ``cancel`` was cancelled.
        DubkitError: what the pipeline raised.
    """
    if ticket.redub is None:
        raise ConfigError(f"job {ticket.job_id} has no re-dub to run", field="redub")
    project = load_redub_project(storage, ticket.redub.project_key)
    return pipeline.redub(project, run_dir=run_dir, source=source, progress=progress, cancel=cancel)


def prune_replaced_stages(result: DubResult, storage: Storage, ticket: JobTicket) -> int:
    """Remove the stage folders of earlier runs that this run's stages replaced, locally and in the mirror.

    Only folders of the pipeline's own stages whose key differs from this run's are removed (a stage
    folder is ``stages/<stage>-<key>``); unit caches stay. A failure to remove is logged, not raised.

    Returns:
        How many folders were removed.
    """
    current = {f"{r.name}-{r.key}" for r in result.reports}
    names = {r.name for r in result.reports}
    stages = result.run_dir / "stages"
    replaced = [
        folder
        for folder in (stages.iterdir() if stages.is_dir() else ())
        if folder.is_dir()
        and folder.name not in current
        and folder.name.rpartition("-")[0] in names
        and (folder / ARTIFACT_FILE).is_file()
    ]
    prefix = checkpoint_prefix(ticket.owner, ticket.job_id)
    for folder in replaced:
        try:
            storage.delete(f"{prefix}stages/{folder.name}", recursive=True)
        except StorageError:
            logger.warning(
                "job %s: could not remove %s from the mirror", ticket.job_id, folder.name, exc_info=True
            )
            continue
        shutil.rmtree(folder, ignore_errors=True)
    if replaced:
        logger.info("job %s: %d replaced stage folder(s) removed", ticket.job_id, len(replaced))
    return len(replaced)
