"""Where a chunked separation stands, kept on disk so a separation killed half way resumes there.

A separator that writes its stems chunk by chunk keeps the partial stem files in the checkpoint folder
and, after each chunk, records the input frame the next chunk starts at, how many frames each stem
holds and the cross-fade tails still to be blended (`ResumePoint`). The partial files are fsynced
before the record, and the record is replaced atomically, so after a crash the record never claims
more than the files hold; the writers cut off anything after the recorded frames. A record made for
another input or other settings (its fingerprint differs) is ignored.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import attrs
import numpy as np
import numpy.typing as npt

from dubkit.atomicfile import atomic_write_bytes, atomic_write_text

__all__ = ["ResumePoint", "StemCheckpoint"]

_F32 = npt.NDArray[np.float32]
_STATE = "state.json"


@attrs.frozen
class ResumePoint:
    """How far a chunked separation got.

    Attributes:
        position: The input frame the next chunk starts at.
        written: Frames each stem's partial file holds.
        tails: The (voice, background) frames still to cross-fade into the next chunk, or ``None``.
    """

    position: int
    written: int
    tails: tuple[_F32, _F32] | None = attrs.field(default=None, eq=False)


class StemCheckpoint:
    """A checkpoint folder: partial stem files plus the last `ResumePoint`.

    Args:
        folder: Kept across attempts (created when first saved).
        fingerprint: What the separation depends on (input, model, settings); a saved point with
            another fingerprint is not resumed.
    """

    def __init__(self, folder: Path, fingerprint: str) -> None:
        self.folder = folder
        self.fingerprint = fingerprint

    def partial(self, stem: str) -> Path:
        """Where the partial file of ``stem`` (``voice``, ``background``) is written."""
        return self.folder / f"{stem}.wav.part"

    def load(self) -> ResumePoint | None:
        """The last saved point of this fingerprint whose partial files exist, or ``None``."""
        try:
            state = json.loads((self.folder / _STATE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(state, dict) or state.get("fingerprint") != self.fingerprint:
            return None
        if not all(self.partial(stem).is_file() for stem in ("voice", "background")):
            return None
        tails: tuple[_F32, _F32] | None = None
        if state.get("tails"):
            try:
                both = np.load(self.folder / str(state["tails"]), allow_pickle=False)
            except (OSError, ValueError):
                return None
            tails = (np.ascontiguousarray(both[0]), np.ascontiguousarray(both[1]))
        return ResumePoint(int(state["position"]), int(state["written"]), tails)

    def save(self, point: ResumePoint) -> None:
        """Record ``point`` (call after the partial files were synced up to ``point.written``)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        # Tails are named by their position, so the record in place always names its own tails file.
        tails = f"tails-{point.position}.npy" if point.tails is not None else None
        if point.tails is not None:
            atomic_write_bytes(self.folder / f"tails-{point.position}.npy", _npy_bytes(np.stack(point.tails)))
        state = {
            "fingerprint": self.fingerprint,
            "position": point.position,
            "written": point.written,
            "tails": tails,
        }
        atomic_write_text(self.folder / _STATE, json.dumps(state))
        for old in self.folder.glob("tails-*.npy"):
            if old.name != tails:
                old.unlink(missing_ok=True)

    def clear(self) -> None:
        """Forget the point (the separation finished; its stems were moved out)."""
        (self.folder / _STATE).unlink(missing_ok=True)
        for old in self.folder.glob("tails-*.npy"):
            old.unlink(missing_ok=True)


def _npy_bytes(array: _F32) -> bytes:
    out = io.BytesIO()
    np.save(out, array, allow_pickle=False)
    return out.getvalue()
