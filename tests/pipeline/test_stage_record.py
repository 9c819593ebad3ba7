"""A stage's devices kept as a record beside its artifact: round trip, and anything else reads as none."""

from __future__ import annotations

from typing import Any

import pytest

from dubkit.backends.devices import DeviceUse
from dubkit.pipeline.stage_record import devices_from_record, devices_to_record


def test_devices_round_trip() -> None:
    devices = (
        ("transcriber", "faster-whisper", DeviceUse("cpu", "int8", "auto", ("moved to the CPU",))),
        ("vad", "silero", DeviceUse("cuda:1")),
    )
    assert devices_from_record(devices_to_record(devices)) == devices


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"devices": "cuda"},
        {"devices": [None, 3]},
        {"devices": [{"kind": "vad", "name": "silero", "device": "", "compute_type": "", "requested": ""}]},
        {
            "devices": [
                {"kind": "vad", "name": 1, "device": "cpu", "compute_type": "", "requested": "", "notes": []}
            ]
        },
        {
            "devices": [
                {
                    "kind": "vad",
                    "name": "x",
                    "device": "cpu",
                    "compute_type": "",
                    "requested": "",
                    "notes": [1],
                }
            ]
        },
    ],
)
def test_a_record_of_another_shape_reads_as_no_devices(record: dict[str, Any]) -> None:
    assert devices_from_record(record) == ()
