"""``dubkit dub`` and ``dubkit redub``."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer
from rich.markup import escape

from dubkit.cli import app, console, fail
from dubkit.cli.output import Column, StageLines, print_rows
from dubkit.errors import ConfigError, DubkitError

if TYPE_CHECKING:
    from dubkit.backends.protocols import BackendKind
    from dubkit.pipeline.progress import ProgressHook
    from dubkit.pipeline.result import DubResult

__all__ = ["dub", "parse_options", "redub"]


def parse_options(items: list[str]) -> dict[BackendKind, dict[str, Any]]:
    """Parse ``KIND.KEY=VALUE`` items (values as JSON when they parse, else strings).

    Raises:
        ConfigError: an item of the wrong shape or an unknown kind.
    """
    import json

    from dubkit.backends.protocols import BackendKind

    out: dict[BackendKind, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        kind_name, dot, option = key.partition(".")
        if not sep or not dot or not option:
            raise ConfigError(f"--option {item!r} must look like KIND.KEY=VALUE", field="option")
        try:
            kind = BackendKind(kind_name)
        except ValueError:
            raise ConfigError(
                f"unknown backend kind {kind_name!r}",
                field="option",
                hint=f"kinds: {', '.join(k.value for k in BackendKind)}",
            ) from None
        try:
            value: Any = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(kind, {})[option] = value
    return out


def _summary(result: DubResult, files: dict[str, Path]) -> None:
    q = result.project.quality
    stages = [
        {"stage": r.name, "seconds": f"{r.seconds:.2f}", "cached": "yes" if r.cached else ""}
        for r in result.reports
    ]
    title = f"{result.request.source.path.name} -> {result.request.target_language}"
    print_rows(
        console, stages, [Column("stage"), Column("seconds", justify="right"), Column("cached")], title=title
    )
    console.print(
        f"segments: {len(result.project.segments)}, flagged: {len(q.flagged_segments)}, "
        f"failed: {len(q.failed_segments)}, loudness: {q.loudness_lufs} LUFS"
    )
    flagged = [s for s in result.project.segments if s.quality.flags or s.status != "ok"]
    if flagged:
        rows = []
        for seg in flagged[:30]:
            quality, timing = seg.quality, seg.timing
            rows.append(
                {
                    "id": seg.id,
                    "time": f"{seg.start:.1f}-{seg.end:.1f}",
                    "speaker": seg.speaker,
                    "stretch": f"{quality.stretch:.2f}" if quality.stretch is not None else "",
                    "offset": f"{quality.start_offset:+.2f}" if quality.start_offset is not None else "",
                    "back WER": f"{quality.back_wer:.2f}" if quality.back_wer is not None else "",
                    "flags": ", ".join(quality.flags) or seg.status,
                    "spoken": timing.spoken if timing else seg.error or "",
                }
            )
        columns = [
            Column("id"),
            Column("time"),
            Column("speaker"),
            Column("stretch", justify="right"),
            Column("offset", justify="right"),
            Column("back WER", justify="right"),
            Column("flags", fold=True),
            Column("spoken", fold=True),
        ]
        print_rows(console, rows, columns, title="lines to review")
        if len(flagged) > 30:
            console.print(f"... and {len(flagged) - 30} more in the dub project")
    for note in q.notes:
        console.print(f"[yellow]note:[/] {escape(note)}")
    for label, path in files.items():
        console.print(f"{label}: {path}")


@contextlib.contextmanager
def _progress() -> Iterator[ProgressHook]:
    """Live bars on a terminal; one line per stage on stderr when output goes to a pipe or a file."""
    from dubkit.pipeline.progress import RichProgress

    if not console.is_terminal:
        yield StageLines()
        return
    with RichProgress() as bars:
        yield bars


@app.command()
def dub(
    source: Annotated[Path, typer.Argument(help="The video or audio file to dub.")],
    to: Annotated[list[str], typer.Option("--to", help="Target language (repeat for several).")],
    from_: Annotated[str, typer.Option("--from", help="Source language, or 'auto'.")] = "auto",
    out_dir: Annotated[Optional[Path], typer.Option("-o", "--out-dir", help="Output folder.")] = None,  # noqa: UP045
    transcriber: Annotated[Optional[str], typer.Option(help="Transcriber backend.")] = None,  # noqa: UP045
    translator: Annotated[Optional[str], typer.Option(help="Translator backend.")] = None,  # noqa: UP045
    synthesizer: Annotated[Optional[str], typer.Option(help="Synthesizer backend.")] = None,  # noqa: UP045
    diarizer: Annotated[Optional[str], typer.Option(help="Diarizer backend.")] = None,  # noqa: UP045
    separator: Annotated[Optional[str], typer.Option(help="Separator backend.")] = None,  # noqa: UP045
    vad: Annotated[Optional[str], typer.Option(help="Voice-activity backend.")] = None,  # noqa: UP045
    option: Annotated[list[str], typer.Option("--option", help="Backend option KIND.KEY=VALUE.")] = [],  # noqa: B006
    strict: Annotated[bool, typer.Option(help="Fail on the first failed segment.")] = False,
    review: Annotated[
        bool, typer.Option(help="Transcribe the dub back and score each line (slower).")
    ] = False,
    low_memory: Annotated[
        bool, typer.Option("--low-memory/--keep-models", help="Free each model after its stage.")
    ] = True,
) -> None:
    """Dub SOURCE into each --to language: writes <stem>.<lang>.mp4, .srt, .vtt and .dub.json."""
    from dubkit.api import default_run_dir
    from dubkit.pipeline.build import PipelineConfig, build_pipeline
    from dubkit.settings import Settings

    chosen = {
        "transcriber": transcriber,
        "translator": translator,
        "synthesizer": synthesizer,
        "diarizer": diarizer,
        "separator": separator,
        "vad": vad,
    }
    folder = out_dir or source.parent
    try:
        config = PipelineConfig.from_mapping(
            {
                **{k: v for k, v in chosen.items() if v},
                "backend_options": parse_options(option),
                "low_memory": low_memory,
                "review": review,
                "max_file_bytes": Settings().max_upload_bytes,
            }
        )
        with build_pipeline(config) as pipeline:
            source_language = None if from_ == "auto" else from_
            requests = [
                pipeline.make_request(source, to=t, source_language=source_language, strict=strict)
                for t in to
            ]
            run_dir = default_run_dir(source, folder, requests[0].source.sha256)
            for request in requests:
                with _progress() as progress:
                    result = pipeline.execute(request, run_dir=run_dir, progress=progress)
                exported = result.export(folder)
                _summary(
                    result,
                    {
                        "video" if exported.media.suffix == ".mp4" else "audio": exported.media,
                        "subtitles": exported.srt,
                        "webvtt": exported.vtt,
                        "project": exported.project,
                    },
                )
    except DubkitError as exc:
        raise fail(exc) from None


@app.command()
def redub(
    project_file: Annotated[Path, typer.Argument(help="An edited <stem>.<lang>.dub.json.")],
) -> None:
    """Re-dub after editing a dub project: only edited lines (and the mix) are redone."""
    from dubkit.backends.protocols import BackendKind
    from dubkit.models.project import DubProject
    from dubkit.pipeline.build import PipelineConfig, build_pipeline

    try:
        project = DubProject.load(project_file)
        chosen = {k: v for k, v in project.backends.items() if k in {kind.value for kind in BackendKind}}
        config = PipelineConfig.from_mapping(
            {
                **{k: v.name for k, v in chosen.items()},
                "backend_options": {BackendKind(k): dict(v.options) for k, v in chosen.items()},
                "low_memory": True,
            }
        )
        with build_pipeline(config) as pipeline, _progress() as progress:
            result = pipeline.redub(project, progress=progress)
        stem = project_file.name.removesuffix(f".{project.target_language}.dub.json")
        exported = result.export(project_file.parent, stem=stem)
        _summary(result, {"media": exported.media, "project": exported.project})
    except DubkitError as exc:
        raise fail(exc) from None
