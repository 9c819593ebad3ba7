"""Handing freed heap memory back to the operating system between units of long work.

glibc's allocator keeps memory a process has freed for later use, in one arena per thread that
allocated it (CTranslate2, onnxruntime and BLAS run threads of their own), and only hands back what
lies at the top of a heap. Over an hour-long dub the gaps left by thousands of freed blocks (audio
pieces, decoder buffers) add up: traced on a 120-minute input, the resident size rose in steps during
transcription alone (from about 540 to 630 MB) while what the stage keeps grew by a few MB, and the
whole dub peaked at 751 MB against 574 MB for ten minutes. ``malloc_trim(0)``
returns every whole free page of every arena (glibc 2.8 and later), so calling it after each chunk and
each stage keeps the resident size to what is in use. It costs a few milliseconds when there is little
to return.

Where the C library has no ``malloc_trim`` (musl, macOS, Windows) this does nothing.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from collections.abc import Callable

__all__ = ["release_free_memory"]

logger = logging.getLogger(__name__)


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """The C library's ``malloc_trim`` (glibc), or ``None`` where the C library has none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        logger.debug("the C library has no malloc_trim: freed memory stays with the allocator")
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_memory() -> bool:
    """Return the allocator's free pages to the operating system.

    Returns:
        Whether any memory was returned (always ``False`` where the C library cannot do it).
    """
    trim = _malloc_trim()
    return trim is not None and trim(0) == 1
