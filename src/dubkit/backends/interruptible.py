"""A long native call run so that a cancel is noticed while it runs.

A batched Whisper decode is one CTranslate2 call of several seconds on a CPU, with no callback inside
it. `call_interruptibly` runs the call on a helper thread and calls ``check`` every ``interval``
seconds on the calling thread; when ``check`` raises (the run was cancelled) the error goes up at once
and the call is left to finish on its own thread, its result dropped: the run stops within
``interval`` seconds, and the processor stays busy until the call in flight ends (at most one batch).
The helper thread is not a daemon, so an interpreter that exits meanwhile waits for it rather than
tearing the native library down under it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["call_interruptibly"]

T = TypeVar("T")


class _Outcome(Generic[T]):
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: T | None = None
        self.error: BaseException | None = None


def call_interruptibly(
    work: Callable[[], T], check: Callable[[], None] | None, *, interval: float = 0.5
) -> T:
    """``work()``, with ``check()`` called every ``interval`` seconds while it runs.

    Args:
        work: The call (it should release the GIL, as native libraries do).
        check: Raises to abandon the call (a cancel); ``None`` runs ``work`` on this thread.
        interval: Seconds between checks.

    Raises:
        Exception: what ``check`` raised, or what ``work`` raised.
    """
    if check is None:
        return work()
    outcome: _Outcome[T] = _Outcome()

    def run() -> None:
        try:
            outcome.value = work()
        except BaseException as exc:  # handed to the caller
            outcome.error = exc
        finally:
            outcome.done.set()

    thread = threading.Thread(target=run, name="dubkit-decode", daemon=False)
    thread.start()
    while not outcome.done.wait(interval):
        check()
    thread.join()
    if outcome.error is not None:
        raise outcome.error
    return outcome.value  # type: ignore[return-value]  # set when no error was raised
