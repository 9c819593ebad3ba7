"""The one-call API: ``dubkit.dub("talk.mp4", to="es")``."""

from __future__ import annotations

from pathlib import Path
from typing import overload

from dubkit.backends.registry import Registry
from dubkit.pipeline.build import PipelineConfig, build_pipeline
from dubkit.pipeline.cache import hash_file
from dubkit.pipeline.progress import CancelToken, ProgressHook, TqdmProgress
from dubkit.pipeline.result import DubResult

__all__ = ["default_run_dir", "dub"]


def default_run_dir(source: Path, out_dir: Path, sha256: str | None = None) -> Path:
    """Where a dub's artifacts live unless told otherwise: ``<out_dir>/.dubkit/<stem>-<hash>``."""
    return out_dir / ".dubkit" / f"{source.stem}-{(sha256 or hash_file(source))[:12]}"


@overload
def dub(
    source: str | Path,
    to: str,
    *,
    source_language: str | None = ...,
    out_dir: str | Path | None = ...,
    config: PipelineConfig | None = ...,
    registry: Registry | None = ...,
    run_dir: str | Path | None = ...,
    progress: ProgressHook | bool = ...,
    cancel: CancelToken | None = ...,
    strict: bool = ...,
) -> DubResult: ...


@overload
def dub(
    source: str | Path,
    to: list[str] | tuple[str, ...],
    *,
    source_language: str | None = ...,
    out_dir: str | Path | None = ...,
    config: PipelineConfig | None = ...,
    registry: Registry | None = ...,
    run_dir: str | Path | None = ...,
    progress: ProgressHook | bool = ...,
    cancel: CancelToken | None = ...,
    strict: bool = ...,
) -> list[DubResult]: ...


def dub(
    source: str | Path,
    to: str | list[str] | tuple[str, ...],
    *,
    source_language: str | None = None,
    out_dir: str | Path | None = None,
    config: PipelineConfig | None = None,
    registry: Registry | None = None,
    run_dir: str | Path | None = None,
    progress: ProgressHook | bool = True,
    cancel: CancelToken | None = None,
    strict: bool = False,
) -> DubResult | list[DubResult]:
    """Dub a video or audio file into one or more languages and write the results beside it.

    Writes ``<stem>.<lang>.mp4`` (``.m4a`` for audio input), ``.srt``, ``.vtt`` and ``.dub.json`` per
    language into ``out_dir``. Runs are resumable: calling again with the same input reuses every
    finished stage.

    Args:
        source: The input file.
        to: A target language (ISO 639-1, e.g. ``"es"``) or several.
        source_language: The speech's language; ``None`` detects it.
        out_dir: Where outputs go (default: the input's folder).
        config: Backends and settings (default: the offline stack, models freed after their stage).
        registry: The backend registry (default: built-ins plus installed plugins).
        run_dir: Where stage artifacts live (default: ``<out_dir>/.dubkit/<stem>-<hash>``).
        progress: A progress hook, ``True`` for tqdm bars (widgets in Jupyter), ``False`` for none.
        cancel: A token that stops the run between units of work.
        strict: Fail on the first failed segment instead of completing a partial dub.

    Returns:
        One `dubkit.pipeline.result.DubResult` for a single language, a list for several.

    Raises:
        ConfigError: an unknown language or an invalid option, before any work.
        BackendError: a backend that is unknown, unavailable or invalid, before any work.
        MediaError: the input is not acceptable media.
        StageError: a stage failed.
        CancelledError: the run was cancelled.
    """
    path = Path(source).expanduser()
    targets = [to] if isinstance(to, str) else list(to)
    folder = Path(out_dir) if out_dir is not None else path.parent
    hook: ProgressHook | None
    if progress is True:
        hook = TqdmProgress()
    elif progress is False:
        hook = None
    else:
        hook = progress
    results = []
    if config is None:
        config = PipelineConfig(low_memory=True)  # a one-off dub: never hold every model at once
    with build_pipeline(config, registry=registry) as pipeline:
        requests = [
            pipeline.make_request(path, to=t, source_language=source_language, strict=strict) for t in targets
        ]  # every language is validated before any work
        runs = (
            Path(run_dir) if run_dir is not None else default_run_dir(path, folder, requests[0].source.sha256)
        )
        for request in requests:
            result = pipeline.execute(request, run_dir=runs, progress=hook, cancel=cancel)
            result.export(folder)
            results.append(result)
    return results[0] if isinstance(to, str) else results
