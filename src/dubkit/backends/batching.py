"""Batches sized from the memory budget; on a GPU running out of memory, halved, then moved to the CPU.

`choose_batch_size` turns a device's free memory and an estimate of one item's memory into a batch
size. `MemoryBackoff` runs a call over items batch by batch: when the call raises a GPU out-of-memory
error (`dubkit.backends.devices.is_out_of_memory`) the same items are retried with half the batch, and
when one item alone does not fit, the backend is moved to the CPU (its ``to_cpu`` callback) and the rest
runs there. Each step is reported through ``note`` (the backend's device notes, which end up in the dub
project), so a dub that ran out of GPU memory finishes, slower, instead of losing its finished stages.
The halved size is kept for the backend's later calls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from dubkit.backends.devices import is_out_of_memory

__all__ = ["MemoryBackoff", "choose_batch_size"]

T = TypeVar("T")
R = TypeVar("R")


def choose_batch_size(free_bytes: int | None, per_item_bytes: int, *, cap: int, share: float = 0.8) -> int:
    """How many items fit ``share`` of ``free_bytes`` at ``per_item_bytes`` each, between 1 and ``cap``.

    Args:
        free_bytes: Memory free on the device after the model was loaded (``None``: unknown, ``cap``).
        per_item_bytes: Memory one item of a batch takes (activations, caches).
        cap: The most worth batching (more gains nothing, or was measured slower).
        share: The part of the free memory a batch may take.
    """
    if free_bytes is None:
        return cap
    fits = int(free_bytes * share) // max(1, per_item_bytes)
    return max(1, min(cap, fits))


class MemoryBackoff:
    """Runs a call over items in batches, halving the batch on GPU out-of-memory errors.

    Args:
        batch_size: Items per call to start with.
        on_gpu: Whether the backend is on a GPU now (an out-of-memory error on the CPU is raised).
        to_cpu: Moves the backend to the CPU; returns the batch size to use there.
        note: Receives a sentence for each change (``batch halved to 4``, ``moved to the CPU``).
    """

    def __init__(
        self,
        batch_size: int,
        *,
        on_gpu: Callable[[], bool],
        to_cpu: Callable[[], int],
        note: Callable[[str], None],
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.batch_size = batch_size
        self._on_gpu = on_gpu
        self._to_cpu = to_cpu
        self._note = note

    def run(self, items: Sequence[T], call: Callable[[Sequence[T]], R]) -> Iterator[tuple[Sequence[T], R]]:
        """Yield ``(batch, call(batch))`` for consecutive batches covering ``items`` in order.

        Raises:
            Exception: whatever ``call`` raises that is not a GPU out-of-memory error (and an
                out-of-memory error on the CPU).
        """
        start = 0
        while start < len(items):
            batch = items[start : start + self.batch_size]
            try:
                result = call(batch)
            except Exception as exc:
                if not (is_out_of_memory(exc) and self._on_gpu()):
                    raise
                self._back_off(len(batch))
                continue
            start += len(batch)
            yield batch, result

    def _back_off(self, tried: int) -> None:
        if tried > 1:
            self.batch_size = max(1, tried // 2)
            self._note(f"ran out of GPU memory with a batch of {tried}: batch halved to {self.batch_size}")
            return
        self.batch_size = max(1, self._to_cpu())
        self._note(
            "ran out of GPU memory with a batch of 1: moved to the CPU for the rest of the run "
            f"(batch {self.batch_size})"
        )
