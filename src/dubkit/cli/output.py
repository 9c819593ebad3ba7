"""Output that reads well anywhere: tables on a terminal, plain lines in a pipe, JSON on request.

On a terminal a listing is a rich table whose key columns (names, numbers) are never cut and whose
free-text columns fold onto more lines when the terminal is narrow. Piped or redirected, the same
rows are printed as tab-separated lines under a header line, with nothing cut and no colour, so
``dubkit backends | grep faster-whisper`` finds its line. ``--json`` prints the rows as a JSON array.

Progress follows the same rule: bars on a terminal (`dubkit.pipeline.progress.RichProgress`), one line
per stage on stderr otherwise (`StageLines`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, TextIO

import attrs
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from rich.console import Console

    from dubkit.pipeline.progress import ProgressEvent

__all__ = ["Column", "StageLines", "print_rows"]


@attrs.frozen(slots=True)
class Column:
    """One column of a listing.

    Attributes:
        key: The row's key (and the JSON field).
        title: The header; the key when empty.
        fold: Free text that may fold onto several lines on a narrow terminal; every other column is
            kept whole (names, versions, numbers).
        justify: ``left`` or ``right`` (numbers).
    """

    key: str
    title: str = ""
    fold: bool = False
    justify: Literal["left", "right"] = "left"

    @property
    def header(self) -> str:
        """The column's header text."""
        return self.title or self.key


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def print_rows(
    console: Console,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[Column],
    *,
    as_json: bool = False,
    title: str | None = None,
) -> None:
    """Print ``rows`` as a table (terminal), tab-separated lines (pipe) or a JSON array (``as_json``).

    A terminal too narrow for the whole key columns gets the tab-separated lines too: they wrap, but
    nothing is cut.
    """
    if as_json:
        console.file.write(json.dumps([dict(row) for row in rows], indent=2, default=str) + "\n")
        return
    widths = {c.key: max([len(c.header)] + [len(_cell(row.get(c.key))) for row in rows]) for c in columns}
    # A table needs each whole column, 12 characters of each folding one and 3 of border per column.
    needed = sum(12 if c.fold else widths[c.key] for c in columns) + 3 * len(columns) + 1
    if not console.is_terminal or needed > console.width:
        out = console.file
        if title:
            out.write(f"# {title}\n")
        out.write("\t".join(c.header for c in columns) + "\n")
        for row in rows:
            out.write("\t".join(_cell(row.get(c.key)).replace("\t", " ") for c in columns) + "\n")
        return
    table = Table(title=title, title_justify="left")
    for column in columns:
        if column.fold:
            table.add_column(column.header, overflow="fold", ratio=1, min_width=12)
        else:
            table.add_column(
                column.header, no_wrap=True, min_width=widths[column.key], justify=column.justify
            )
    for row in rows:
        table.add_row(*(escape(_cell(row.get(c.key))) for c in columns))
    console.print(table)


class StageLines:
    """A progress hook for pipes and logs: one line per stage when it ends, on stderr.

    ``3/11 separate: done in 1.2 s`` (or ``cached``, or ``failed``), so a log shows where a run is
    without the control characters of a live bar.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._started: dict[str, float] = {}

    def __call__(self, event: ProgressEvent) -> None:
        """Print a line when a stage finishes, is skipped or fails."""
        from dubkit.pipeline.progress import ProgressState

        stream = self._stream or sys.stderr
        now = time.monotonic()
        self._started.setdefault(event.stage, now)
        label = f"{event.index + 1}/{event.total} {event.stage}"
        if event.state is ProgressState.FINISHED:
            stream.write(f"{label}: done in {now - self._started[event.stage]:.1f} s\n")
        elif event.state is ProgressState.SKIPPED:
            stream.write(f"{label}: cached\n")
        elif event.state is ProgressState.FAILED:
            stream.write(f"{label}: failed {event.message}\n".rstrip() + "\n")
        else:
            return
        stream.flush()
