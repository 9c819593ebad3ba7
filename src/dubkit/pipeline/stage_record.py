"""Where a stage's backends ran, kept beside its artifact so a run that takes it from the cache can say.

A stage's artifact is content-addressed; how it was made (the devices its backends ran on, an
out-of-memory fallback) is not part of it, but belongs to it: a dub into a second language takes the
transcript from the cache, and its project should still say the transcriber ran on ``cuda``. The
pipeline writes a stage's devices as a small JSON record beside the artifact after committing it, and
reads them back when it reuses the artifact. A missing or unreadable record reads as no devices.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dubkit.backends.devices import DeviceUse

__all__ = ["devices_from_record", "devices_to_record"]

Devices = tuple[tuple[str, str, DeviceUse], ...]


def devices_to_record(devices: Sequence[tuple[str, str, DeviceUse]]) -> dict[str, Any]:
    """The JSON-ready record of a stage's ``(kind, name, use)`` devices."""
    return {
        "devices": [
            {
                "kind": kind,
                "name": name,
                "device": use.device,
                "compute_type": use.compute_type,
                "requested": use.requested,
                "notes": list(use.notes),
            }
            for kind, name, use in devices
        ]
    }


def devices_from_record(record: Mapping[str, Any]) -> Devices:
    """The devices of a record written by `devices_to_record`; entries not of that shape are skipped."""
    entries = record.get("devices")
    if not isinstance(entries, list):
        return ()
    out = []
    for entry in entries:
        if not isinstance(entry, Mapping):
            continue
        texts = [entry.get(k) for k in ("kind", "name", "device", "compute_type", "requested")]
        notes = entry.get("notes")
        if not all(isinstance(t, str) for t in texts) or not isinstance(notes, list):
            continue
        if not all(isinstance(n, str) for n in notes) or not texts[2]:
            continue
        kind, name, device, compute_type, requested = (str(t) for t in texts)
        out.append((kind, name, DeviceUse(device, compute_type, requested, tuple(notes))))
    return tuple(out)
