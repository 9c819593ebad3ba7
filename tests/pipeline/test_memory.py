"""Freed heap memory goes back to the operating system between units of long work (glibc)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")

# Fragments the heap on purpose: 3,000 pairs of 64 KiB blocks (under glibc's mmap threshold, so they
# come from the heap), then every second block is freed. The freed blocks are holes between live ones,
# which glibc keeps (only free memory at the top of a heap goes back by itself): ~190 MB stays resident
# until something trims the heap.
_FRAGMENT = """
import json, os
def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
def fragment():
    blocks = [bytearray(65536) for _ in range(6000)]
    del blocks[1::2]
    return blocks
"""


def _run(body: str) -> dict[str, float]:
    script = _FRAGMENT + textwrap.dedent(body)
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def test_release_free_memory_returns_the_holes_of_a_fragmented_heap() -> None:
    figures = _run(
        """
        from dubkit.pipeline.memory import release_free_memory
        kept = fragment()
        before = rss_mb()
        released = release_free_memory()
        print(json.dumps({"before": before, "after": rss_mb(), "released": released, "kept": len(kept)}))
        """
    )
    assert figures["released"] is True
    assert figures["before"] - figures["after"] > 150  # of the ~190 MB of holes
    assert figures["kept"] == 3000  # the live blocks are untouched


def test_a_second_release_has_nothing_to_return() -> None:
    figures = _run(
        """
        from dubkit.pipeline.memory import release_free_memory
        kept = fragment()
        first = release_free_memory()
        after = rss_mb()
        second = release_free_memory()
        print(json.dumps({"first": first, "second": second, "drift": abs(rss_mb() - after)}))
        """
    )
    assert figures["first"] is True
    assert figures["drift"] < 5


def _after_units(release: bool) -> dict[str, float]:
    """Four units, each keeping a quarter of what it allocated; resident MB over the start, after them."""
    return _run(
        f"""
        from pathlib import Path
        from dubkit.pipeline.context import StageContext
        from dubkit.pipeline.progress import CancelToken

        ctx = StageContext(
            stage="s", request=None, work_dir=Path("."), run_dir=Path("."),
            report=lambda *args: None, cancel=CancelToken(), units=lambda namespace: None,
        )
        base = rss_mb()
        kept = []
        for _ in ctx.each(range(4), label="chunk", release_memory={release}):
            blocks = [bytearray(65536) for _ in range(2000)]
            kept.append(blocks[::4])  # what a chunk keeps (its result) sits between its freed buffers
            del blocks
        print(json.dumps({{"growth": rss_mb() - base, "kept": sum(len(k) for k in kept)}}))
        """
    )


def test_each_with_release_memory_hands_back_each_units_freed_buffers() -> None:
    with_release, without = _after_units(True), _after_units(False)
    live = 4 * 500 * 65536 / 2**20  # 125 MiB kept by the four units
    assert with_release["kept"] == without["kept"] == 2000
    assert with_release["growth"] < live + 25
    # Without it the last unit's ~94 MiB of freed buffers stay resident (earlier units' are reused).
    assert without["growth"] > with_release["growth"] + 50
