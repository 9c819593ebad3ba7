"""``dubkit backends``, ``dubkit languages``, ``dubkit probe``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import attrs
import typer
from rich.markup import escape

from dubkit._version import __version__
from dubkit.backends.kinds import BackendKind
from dubkit.cli import app, console, fail
from dubkit.cli.output import Column, print_rows
from dubkit.errors import DubkitError

if TYPE_CHECKING:
    from dubkit.backends.registry import Registry

__all__ = ["backends", "languages", "probe"]


@app.command()
def backends(
    kind: Annotated[Optional[BackendKind], typer.Argument(help="Only this kind.")] = None,  # noqa: UP045
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List backends (built-in and plugins) without importing them."""
    from dubkit.backends.registry import Registry

    registry = Registry()
    rows: list[dict[str, str | bool]] = []
    if kind in (None, BackendKind.SYNTHESIZER):
        rows.append(_auto_row(registry))
    for spec in registry.specs(kind):
        avail = registry.availability(spec)
        note = spec.description if avail.available else f"{avail.reason}; install: {avail.install or '?'}"
        rows.append(
            {
                "kind": spec.kind.value,
                "name": spec.name,
                "distribution": spec.distribution,
                "version": spec.version,
                "available": avail.available,
                "note": note,
            }
        )
    columns = [
        Column("kind"),
        Column("name"),
        Column("distribution"),
        Column("version"),
        Column("available"),
        Column("note", fold=True),
    ]
    print_rows(console, rows, columns, as_json=as_json)


def _auto_row(registry: Registry) -> dict[str, str | bool]:
    """The ``auto`` synthesizer (the default), without importing any backend.

    Which synthesizer it picks for a language depends on the languages each speaks, which only their
    modules know: `dubkit languages` shows the pick per pair.
    """
    from dubkit.backends.synthesizer_choice import AUTO, candidate_synthesizers

    row: dict[str, str | bool] = {
        "kind": "synthesizer",
        "name": AUTO,
        "distribution": "dubkit",
        "version": __version__,
    }
    try:
        order = candidate_synthesizers(registry, AUTO)
    except DubkitError as exc:
        return {**row, "available": False, "note": exc.message}
    note = (
        "the default: the most natural installed voice per target language, the first of "
        f"{', '.join(order)} that speaks it (dubkit languages shows the pick per pair)"
    )
    return {**row, "available": True, "note": note}


@app.command()
def languages(
    from_: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--from", help="Only pairs from this source language ('auto' for detected)."),
    ] = None,
    translator: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Translator backend ('auto': the best installed one per pair)."),
    ] = None,
    synthesizer: Annotated[Optional[str], typer.Option(help="Synthesizer backend.")] = None,  # noqa: UP045
    known: Annotated[
        bool, typer.Option("--known", help="List every language dubkit knows, with its codes.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the (source, target) pairs the installed backends can dub, and which translator serves each."""
    if known:
        from dubkit.models.languages import LANGUAGES

        rows = [
            {"code": lang.code, "name": lang.name, "iso639_3": lang.iso639_3, "nllb": lang.nllb}
            for lang in LANGUAGES
        ]
        known_columns = [
            Column("code"),
            Column("name"),
            Column("iso639_3", "ISO 639-3"),
            Column("nllb", "NLLB"),
        ]
        print_rows(console, rows, known_columns, as_json=as_json)
        return
    from dubkit.backends.registry import Registry
    from dubkit.pipeline.build import PipelineConfig
    from dubkit.pipeline.offer import language_offer

    chosen = {"translator": translator, "synthesizer": synthesizer}
    try:
        offer = language_offer(
            PipelineConfig.from_mapping({k: v for k, v in chosen.items() if v}), Registry()
        )
    except DubkitError as exc:
        raise fail(exc) from None
    pairs = [p for p in offer.pairs if from_ is None or p.source == from_]
    if as_json:
        document = {"translator": offer.translator, "pairs": [attrs.asdict(p) for p in pairs]}
        console.file.write(json.dumps(document, indent=2) + "\n")
        return
    table_rows: list[dict[str, str]] = []
    for source in dict.fromkeys(p.source for p in pairs):
        rows_of = [p for p in pairs if p.source == source]
        if source == "auto":
            targets = ", ".join(p.target for p in rows_of)
            table_rows.append(
                {
                    "from": "auto (detected)",
                    "into": targets,
                    "translator": "per detected language",
                    "voice": "",
                }
            )
            continue
        groups: dict[tuple[str, str], list[str]] = {}
        for p in rows_of:
            groups.setdefault((p.translator or "", p.synthesizer), []).append(p.target)
        for (name, voice), targets_of in groups.items():
            table_rows.append(
                {"from": source, "into": ", ".join(targets_of), "translator": name, "voice": voice}
            )
    columns = [Column("from"), Column("into", fold=True), Column("translator"), Column("voice")]
    print_rows(
        console, table_rows, columns, title=f"Pairs that can be dubbed (translator: {offer.translator})"
    )
    if from_ is not None and not pairs:
        console.print(f"[yellow]nothing can be dubbed from {escape(from_)!s} here[/]")


@app.command()
def probe(path: Annotated[Path, typer.Argument(help="A video or audio file.")]) -> None:
    """Print what is in a media file, or why it is not accepted."""
    from dubkit.media import probe as probe_media

    try:
        info = probe_media(path)
    except DubkitError as exc:
        raise fail(exc) from None
    console.print_json(json.dumps(attrs.asdict(info), default=str))
