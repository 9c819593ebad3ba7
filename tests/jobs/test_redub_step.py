"""The re-dub step's parts: its project read from storage, and the stage folders it replaced removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from dubkit.errors import ConfigError
from dubkit.jobs.checkpoints import RunCheckpoints
from dubkit.jobs.redub_step import load_redub_project, prune_replaced_stages
from dubkit.jobs.ticket import JobTicket, RedubStep, redub_step
from dubkit.pipeline.result import DubResult, StageReport
from dubkit.storage import FsspecStorage

TICKET = JobTicket("job", "alice", "alice/job/input", "talk.mp4", "es", "en", redub=RedubStep(2, "k"))


def test_a_missing_or_broken_project_cannot_be_redubbed(tmp_path: Path) -> None:
    storage = FsspecStorage(str(tmp_path / "storage"))
    with pytest.raises(ConfigError, match="cannot be read"):
        load_redub_project(storage, "alice/job/redub-project.json")
    with storage.open_write("alice/job/redub-project.json") as handle:
        handle.write(b'{"schema_version": 1}')
    with pytest.raises(ConfigError, match="not a valid dub project"):
        load_redub_project(storage, "alice/job/redub-project.json")


def test_a_step_is_read_only_from_a_whole_description() -> None:
    assert redub_step({"version": 3, "project": "alice/job/p.json"}) == RedubStep(3, "alice/job/p.json")
    assert redub_step({"version": 1, "project": "p"}) is None  # version 1 is the first dub
    assert redub_step({"version": "2", "project": "p"}) is None
    assert redub_step(None) is None


def test_the_stage_folders_a_redub_replaced_go_locally_and_from_the_mirror(tmp_path: Path) -> None:
    storage = FsspecStorage(str(tmp_path / "storage"))
    run = tmp_path / "run"
    for folder in ("mix-old", "mix-new", "mux-new", "probe-same", "other-thing"):
        (run / "stages" / folder).mkdir(parents=True)
        (run / "stages" / folder / "artifact.json").write_text("{}")
    (run / "units" / "mix").mkdir(parents=True)
    (run / "units" / "mix" / "block.f32").write_bytes(b"kept")
    RunCheckpoints(storage, "alice", "job", run).save()
    reports = (StageReport("probe", "same", 0.0, cached=True), StageReport("mix", "new", 1.0, cached=False))
    result = DubResult(request=None, project=None, artifacts=None, reports=reports, run_dir=run)  # type: ignore[arg-type]
    assert prune_replaced_stages(result, storage, TICKET) == 1
    assert sorted(p.name for p in (run / "stages").iterdir()) == [
        "mix-new",
        "mux-new",
        "other-thing",
        "probe-same",
    ]
    mirrored = {k.split("/")[4] for k in storage.list("alice/job/run/stages")}
    assert mirrored == {"mix-new", "mux-new", "other-thing", "probe-same"}
    assert storage.exists("alice/job/run/units/mix/block.f32")  # unit caches stay
