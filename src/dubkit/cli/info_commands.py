"""``dubkit backends``, ``dubkit languages``, ``dubkit probe``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import attrs
import typer
from rich.markup import escape
from rich.table import Table

from dubkit._version import __version__
from dubkit.backends.protocols import BackendKind
from dubkit.backends.registry import Registry
from dubkit.backends.synthesizer_choice import AUTO, auto_choices
from dubkit.cli import app, console, fail
from dubkit.errors import DubkitError
from dubkit.models.languages import LANGUAGES

__all__ = ["backends", "languages", "probe"]


@app.command()
def backends(
    kind: Annotated[Optional[BackendKind], typer.Argument(help="Only this kind.")] = None,  # noqa: UP045
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List backends (built-in and plugins) without importing them."""
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
    if as_json:
        console.print_json(json.dumps(rows))
        return
    table = Table("kind", "name", "distribution", "version", "available", "note")
    for row in rows:
        table.add_row(
            str(row["kind"]),
            str(row["name"]),
            str(row["distribution"]),
            str(row["version"]),
            "[green]yes[/]" if row["available"] else "[red]no[/]",
            escape(str(row["note"])),
        )
    console.print(table)


def _auto_row(registry: Registry) -> dict[str, str | bool]:
    """The ``auto`` synthesizer (the default): which synthesizer it picks for which target languages."""
    try:
        choices = auto_choices(registry)
    except DubkitError as exc:
        return {
            "kind": "synthesizer",
            "name": AUTO,
            "distribution": "dubkit",
            "version": __version__,
            "available": False,
            "note": exc.message,
        }
    picks = []
    for name, codes in choices.items():
        listed = ", ".join(codes) if len(codes) <= 12 else f"the other {len(codes)} languages"
        picks.append(f"{name} for {listed}")
    note = "the default: the most natural installed voice per target language: " + "; ".join(picks)
    return {
        "kind": "synthesizer",
        "name": AUTO,
        "distribution": "dubkit",
        "version": __version__,
        "available": bool(choices),
        "note": note,
    }


@app.command()
def languages() -> None:
    """List the languages dubkit knows (ISO 639-1 codes)."""
    table = Table("code", "name", "ISO 639-3", "NLLB")
    for lang in LANGUAGES:
        table.add_row(lang.code, lang.name, lang.iso639_3, lang.nllb)
    console.print(table)


@app.command()
def probe(path: Annotated[Path, typer.Argument(help="A video or audio file.")]) -> None:
    """Print what is in a media file, or why it is not accepted."""
    from dubkit.media import probe as probe_media

    try:
        info = probe_media(path)
    except DubkitError as exc:
        raise fail(exc) from None
    console.print_json(json.dumps(attrs.asdict(info), default=str))
