"""Separates a WAV with the tiny demucs model, keeping checkpoints, and SIGKILLs itself at one chunk.

Usage: ``demucs_kill_worker.py MODEL INPUT OUT_DIR CHECKPOINT_DIR KILL_AT_CHUNK``: the process kills
itself (SIGKILL, no clean-up) as chunk KILL_AT_CHUNK (1-based) starts, i.e. after KILL_AT_CHUNK - 1
chunks were separated and checkpointed; with KILL_AT_CHUNK 0 it finishes and prints how many chunks it
separated. (Every run of a test goes through this script, so all of them compute with the same torch
settings: a pytest process may have set torch to one thread, which changes the floats.)
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

from dubkit.backends.demucs_separator import DemucsSeparator
from dubkit.media.wav import read_wav_info


class KilledSeparator(DemucsSeparator):
    """Kills its own process when the chosen chunk starts."""

    kill_at = 0
    chunks = 0

    def _separate_block(self, *args: Any) -> Any:
        type(self).chunks += 1
        if type(self).chunks == type(self).kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return super()._separate_block(*args)


def main(model: str, source: str, out_dir: str, checkpoint_dir: str, kill_at: str) -> None:
    KilledSeparator.kill_at = int(kill_at)
    options = DemucsSeparator.Options(model=model, shifts=0, chunk_seconds=0.8, crossfade_seconds=0.2)
    with KilledSeparator(options) as separator:
        separator.separate_resumably(read_wav_info(Path(source)), Path(out_dir), Path(checkpoint_dir))
    print(KilledSeparator.chunks)


if __name__ == "__main__":
    main(*sys.argv[1:])
