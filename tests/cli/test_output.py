"""Listings and progress that read well on a terminal, in a pipe and as JSON."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from dubkit.cli.output import Column, StageLines, print_rows
from dubkit.pipeline.progress import ProgressEvent, ProgressState

ROWS = [
    {
        "name": "faster-whisper",
        "distribution": "dubkit-a-very-long-plugin-distribution-name",
        "note": "x " * 60,
    },
    {"name": "silero", "distribution": "dubkit", "note": "short"},
]
COLUMNS = [Column("name"), Column("distribution"), Column("note", fold=True)]


def _console(*, terminal: bool, width: int) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=width, color_system=None), buffer


def test_a_pipe_gets_tab_separated_lines_with_nothing_cut() -> None:
    console, buffer = _console(terminal=False, width=40)
    print_rows(console, ROWS, COLUMNS)
    lines = buffer.getvalue().splitlines()
    assert lines[0].split("\t") == ["name", "distribution", "note"]
    assert lines[1].split("\t")[:2] == ["faster-whisper", "dubkit-a-very-long-plugin-distribution-name"]
    assert lines[1].split("\t")[2] == ("x " * 60)


def test_a_wide_terminal_gets_a_table_whose_names_are_whole_and_notes_fold() -> None:
    console, buffer = _console(terminal=True, width=100)
    print_rows(console, ROWS, COLUMNS)
    text = buffer.getvalue()
    assert "faster-whisper" in text and "dubkit-a-very-long-plugin-distribution-name" in text
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 100
    assert text.count("x x") > 1  # the long note folded onto several lines


def test_a_terminal_too_narrow_for_the_names_falls_back_to_lines() -> None:
    console, buffer = _console(terminal=True, width=50)
    print_rows(console, ROWS, COLUMNS)
    assert "dubkit-a-very-long-plugin-distribution-name" in buffer.getvalue()
    assert "…" not in buffer.getvalue()


def test_json_rows() -> None:
    console, buffer = _console(terminal=True, width=30)
    print_rows(console, ROWS, COLUMNS, as_json=True)
    assert json.loads(buffer.getvalue()) == ROWS


def test_piped_backends_can_be_grepped() -> None:
    exe = shutil.which("dubkit", path=str(Path(sys.executable).parent))
    assert exe
    out = subprocess.run([exe, "backends"], capture_output=True, text=True, timeout=120, check=True)
    rows = [line.split("\t") for line in out.stdout.splitlines()]
    assert rows[0][:2] == ["kind", "name"]
    assert ["transcriber", "faster-whisper"] in [row[:2] for row in rows]
    assert ["synthesizer", "sine-voice", "dubkit-sample-plugin"] in [row[:3] for row in rows]


def test_stage_lines_print_one_line_per_finished_stage() -> None:
    stream = io.StringIO()
    hook = StageLines(stream)
    hook(ProgressEvent("probe", 0.0, state=ProgressState.STARTED, index=0, total=3))
    hook(ProgressEvent("probe", 0.5, "half", index=0, total=3))
    hook(ProgressEvent("probe", 1.0, state=ProgressState.FINISHED, index=0, total=3))
    hook(ProgressEvent("extract", 1.0, state=ProgressState.SKIPPED, index=1, total=3))
    hook(ProgressEvent("vad", 0.2, "no audio", state=ProgressState.FAILED, index=2, total=3))
    lines = stream.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("1/3 probe: done in ")
    assert lines[1] == "2/3 extract: cached"
    assert lines[2] == "3/3 vad: failed no audio"
