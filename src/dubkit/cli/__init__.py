"""The ``dubkit`` command line: a thin layer of settings -> objects -> runner."""

from __future__ import annotations

import logging
import os
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from dubkit._version import __version__
from dubkit.errors import DubkitError

__all__ = ["app", "console", "fail", "main"]

app = typer.Typer(
    name="dubkit",
    help="Dub videos into other languages: transcribe, translate, voice, time and mix, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

console = Console()
_err = Console(stderr=True)


def fail(exc: DubkitError) -> typer.Exit:
    """Print a dubkit error (message and hint) to stderr; return the exit to raise."""
    _err.print(f"[bold red]error:[/] {escape(exc.message)}")
    if exc.hint:
        _err.print(f"[yellow]hint:[/] {escape(exc.hint)}")
    return typer.Exit(code=2)


def _version(value: bool) -> None:
    if value:
        console.print(f"dubkit {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        Optional[bool],  # noqa: UP045 - typer needs Optional on 3.10
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit."),
    ] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More logging (-v, -vv).")] = 0,
) -> None:
    level = [_log_level_setting(), "INFO", "DEBUG"][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _log_level_setting() -> str:
    """``DUBKIT_LOG_LEVEL`` (`dubkit.settings.Settings.log_level`), read without loading the settings.

    Every command starts here; pydantic-settings loads only for the commands that need the settings.
    """
    level = os.environ.get("DUBKIT_LOG_LEVEL", "WARNING").strip().upper()
    return level if isinstance(logging.getLevelName(level), int) else "WARNING"


def main() -> None:
    """Entry point of the ``dubkit`` script."""
    app()


# The command modules register themselves on ``app``; imported last because they import ``app``.
from dubkit.cli import dub_command, info_commands, serve_command, worker_command  # noqa: E402, F401
