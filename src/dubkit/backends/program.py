"""Running a backend's command-line program (apertium, espeak-ng): argv only, a timeout, typed errors."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from dubkit.errors import BackendRuntimeError, BackendUnavailableError

__all__ = ["find_program", "run_program"]


def find_program(program: str, *, kind: str, name: str, install: str) -> str:
    """The program's path on PATH.

    Raises:
        BackendUnavailableError: it is not installed (the error carries ``install``).
    """
    path = shutil.which(program)
    if path is None:
        raise BackendUnavailableError(kind, name, f"{program} was not found on PATH", install=install)
    return path


def run_program(
    argv: Sequence[str], *, stdin: str | None, timeout: float, kind: str, name: str, unit: str
) -> str:
    """Run ``argv`` (never through a shell) with UTF-8 text on stdin; return its stdout.

    Raises:
        BackendRuntimeError: it timed out, could not start, or exited with a non-zero status (the
            error carries the last lines it printed).
    """
    program = argv[0].rsplit("/", 1)[-1]
    try:
        done = subprocess.run(
            list(argv),
            input=stdin,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BackendRuntimeError(
            f"{program} took longer than {timeout:g} s", kind=kind, name=name, unit=unit
        ) from exc
    except OSError as exc:
        raise BackendRuntimeError(f"cannot run {program}: {exc}", kind=kind, name=name, unit=unit) from exc
    if done.returncode != 0:
        tail = " | ".join((done.stderr or done.stdout).strip().splitlines()[-3:])
        raise BackendRuntimeError(
            f"{program} exited with status {done.returncode}: {tail}", kind=kind, name=name, unit=unit
        )
    return done.stdout
