"""Batch sizes from the memory budget, halved on a GPU out-of-memory error, then moved to the CPU."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from dubkit.backends.batching import MemoryBackoff, choose_batch_size
from dubkit.backends.devices import is_out_of_memory


def ctranslate2_oom() -> RuntimeError:
    return RuntimeError("CUDA failed with error out of memory")  # what CTranslate2's CUDA allocator raises


class FakeGpu:
    """Where the call runs, and a call that runs out of memory on the GPU above ``fits`` items."""

    def __init__(self, fits: int) -> None:
        self.fits = fits
        self.device = "cuda"
        self.tried: list[int] = []
        self.notes: list[str] = []

    def call(self, batch: Sequence[int]) -> list[int]:
        self.tried.append(len(batch))
        if self.device == "cuda" and len(batch) > self.fits:
            raise ctranslate2_oom()
        return [item * 10 for item in batch]

    def to_cpu(self) -> int:
        self.device = "cpu"
        return 3

    def backoff(self, batch_size: int) -> MemoryBackoff:
        return MemoryBackoff(
            batch_size, on_gpu=lambda: self.device == "cuda", to_cpu=self.to_cpu, note=self.notes.append
        )


def test_the_batch_is_halved_until_it_fits_and_stays_halved() -> None:
    gpu = FakeGpu(fits=2)
    backoff = gpu.backoff(8)
    results = list(backoff.run(list(range(9)), gpu.call))
    assert [item for _, out in results for item in out] == [i * 10 for i in range(9)]  # all, in order
    assert gpu.tried == [8, 4, 2, 2, 2, 2, 1]  # 8 -> 4 -> 2, then 2 at a time
    assert backoff.batch_size == 2 and gpu.device == "cuda"
    assert gpu.notes == [
        "ran out of GPU memory with a batch of 8: batch halved to 4",
        "ran out of GPU memory with a batch of 4: batch halved to 2",
    ]
    gpu.tried.clear()
    assert len(list(backoff.run([1, 2, 3], gpu.call))) == 2 and gpu.tried == [2, 1]  # kept halved
    short = gpu.backoff(8)
    gpu.tried.clear()
    list(short.run([1, 2, 3], gpu.call))
    assert gpu.tried == [3, 1, 1, 1]  # a short last batch is halved from its own length


def test_when_one_item_does_not_fit_the_rest_runs_on_the_cpu() -> None:
    gpu = FakeGpu(fits=0)
    backoff = gpu.backoff(4)
    results = list(backoff.run(list(range(5)), gpu.call))
    assert [item for _, out in results for item in out] == [i * 10 for i in range(5)]
    assert gpu.tried == [4, 2, 1, 3, 2]  # 4, 2, 1 on the GPU; then 3 at a time on the CPU
    assert gpu.device == "cpu" and backoff.batch_size == 3
    assert (
        gpu.notes[-1]
        == "ran out of GPU memory with a batch of 1: moved to the CPU for the rest of the run (batch 3)"
    )


def test_other_errors_and_cpu_out_of_memory_are_raised() -> None:
    gpu = FakeGpu(fits=8)

    def broken(batch: Sequence[int]) -> list[int]:
        raise ValueError("bad input")

    with pytest.raises(ValueError):
        list(gpu.backoff(4).run([1, 2], broken))
    gpu.device = "cpu"

    def no_memory(batch: Sequence[int]) -> list[int]:
        raise ctranslate2_oom()

    with pytest.raises(RuntimeError, match="out of memory"):
        list(gpu.backoff(4).run([1, 2], no_memory))
    assert gpu.notes == []
    with pytest.raises(ValueError):
        MemoryBackoff(0, on_gpu=lambda: True, to_cpu=lambda: 1, note=print)


def test_out_of_memory_errors_of_each_runtime_are_recognised() -> None:
    assert is_out_of_memory(ctranslate2_oom())
    assert is_out_of_memory(RuntimeError("cuBLAS failed with status CUBLAS_STATUS_ALLOC_FAILED"))
    torch = pytest.importorskip("torch")
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert not is_out_of_memory(RuntimeError("CUDA failed with error invalid device ordinal"))
    assert not is_out_of_memory(ValueError("out of memory"))  # not an error a runtime raises for it


def test_batch_sizes_follow_the_memory_budget() -> None:
    gib = 2**30
    assert choose_batch_size(None, gib, cap=16) == 16  # unknown: the cap
    assert choose_batch_size(10 * gib, gib, cap=16) == 8  # 80% of 10 GiB at 1 GiB a window
    assert choose_batch_size(80 * gib, gib, cap=16) == 16
    assert choose_batch_size(gib // 2, gib, cap=16) == 1  # never below one
