"""``dubkit backends``, ``dubkit languages``, ``dubkit probe``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import attrs
import typer

from dubkit.backends.protocols import BackendKind
from dubkit.cli import app, console, fail
from dubkit.cli.output import Column, print_rows
from dubkit.errors import DubkitError

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


@app.command()
def languages(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the languages dubkit knows (ISO 639-1 codes)."""
    from dubkit.models.languages import LANGUAGES

    rows = [
        {"code": lang.code, "name": lang.name, "iso639_3": lang.iso639_3, "nllb": lang.nllb}
        for lang in LANGUAGES
    ]
    columns = [Column("code"), Column("name"), Column("iso639_3", "ISO 639-3"), Column("nllb", "NLLB")]
    print_rows(console, rows, columns, as_json=as_json)


@app.command()
def probe(path: Annotated[Path, typer.Argument(help="A video or audio file.")]) -> None:
    """Print what is in a media file, or why it is not accepted."""
    from dubkit.media import probe as probe_media

    try:
        info = probe_media(path)
    except DubkitError as exc:
        raise fail(exc) from None
    console.print_json(json.dumps(attrs.asdict(info), default=str))
