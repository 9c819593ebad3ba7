"""The pipeline core on small stages of its own: graph checks, caching, resume, progress, cancel."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from dubkit.errors import CancelledError, ConfigError, StageError, UnknownLanguageError
from dubkit.pipeline import (
    ArtifactKey,
    Artifacts,
    BaseStage,
    CancelToken,
    Pipeline,
    ProgressEvent,
    ProgressState,
    RunRequest,
    StageContext,
)
from dubkit.pipeline.keys import SOURCE


@attrs.frozen
class Blob:
    path: Path
    size: int


@attrs.frozen
class Words:
    words: tuple[str, ...]


BLOB: ArtifactKey[Blob] = ArtifactKey("blob", Blob)
WORDS: ArtifactKey[Words] = ArtifactKey("words", Words)


class CopyStage(BaseStage[Blob]):
    name = "copy"
    inputs = (SOURCE,)
    output = BLOB

    def __init__(self) -> None:
        self.runs = 0

    def run(self, ctx: StageContext, inputs: Artifacts) -> Blob:
        self.runs += 1
        out = ctx.work_dir / "copy.bin"
        shutil.copyfile(inputs[SOURCE].path, out)
        return Blob(out, out.stat().st_size)


class SplitStage(BaseStage[Words]):
    name = "split"
    inputs = (BLOB,)
    output = WORDS

    def __init__(
        self,
        upper: bool = False,
        fail_on: str | None = None,
        cancel_after: int | None = None,
        token: CancelToken | None = None,
    ) -> None:
        self.upper = upper
        self.fail_on = fail_on
        self.cancel_after = cancel_after
        self.token = token
        self.calls = 0

    def fingerprint(self, request: RunRequest) -> Mapping[str, Any]:
        return {"upper": self.upper}

    def run(self, ctx: StageContext, inputs: Artifacts) -> Words:
        words = inputs[BLOB].path.read_text().split()
        out = []
        for i, word in enumerate(ctx.each(words, label="word")):
            self.calls += 1
            if self.cancel_after is not None and i == self.cancel_after and self.token:
                self.token.cancel()
            result = ctx.attempt(word, lambda w=word: self._one(w))
            if result is not None:
                out.append(result)
        return Words(tuple(out))

    def _one(self, word: str) -> str:
        if word == self.fail_on:
            raise ValueError(f"cannot handle {word}")
        return word.upper() if self.upper else word


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "input.txt"
    path.write_text("alpha beta gamma delta")
    return path


def test_runs_then_skips_every_stage_whose_artifact_exists(tmp_path: Path, source: Path) -> None:
    copy, split = CopyStage(), SplitStage()
    pipeline = Pipeline([copy, split])
    first = pipeline.run(source, to="es", run_dir=tmp_path / "run")
    assert first.artifacts[WORDS].words == ("alpha", "beta", "gamma", "delta")
    assert [r.cached for r in first.reports] == [False, False]
    second = pipeline.run(source, to="es", run_dir=tmp_path / "run")
    assert [r.cached for r in second.reports] == [True, True]
    assert (copy.runs, split.calls) == (1, 4)
    assert second.artifacts[BLOB].path.read_text() == source.read_text()


def test_a_changed_option_reruns_that_stage_only(tmp_path: Path, source: Path) -> None:
    copy = CopyStage()
    Pipeline([copy, SplitStage()]).run(source, to="es", run_dir=tmp_path / "run")
    result = Pipeline([copy, SplitStage(upper=True)]).run(source, to="es", run_dir=tmp_path / "run")
    assert result.artifacts[WORDS].words[0] == "ALPHA"
    assert [r.cached for r in result.reports] == [True, False]
    assert copy.runs == 1


def test_changed_input_content_reruns_everything(tmp_path: Path, source: Path) -> None:
    copy = CopyStage()
    pipeline = Pipeline([copy, SplitStage()])
    pipeline.run(source, to="es", run_dir=tmp_path / "run")
    source.write_text("one two")
    result = pipeline.run(source, to="es", run_dir=tmp_path / "run")
    assert result.artifacts[WORDS].words == ("one", "two")
    assert copy.runs == 2


def test_run_directory_can_move(tmp_path: Path, source: Path) -> None:
    copy = CopyStage()
    Pipeline([copy, SplitStage()]).run(source, to="es", run_dir=tmp_path / "run")
    shutil.move(tmp_path / "run", tmp_path / "moved")
    result = Pipeline([copy, SplitStage()]).run(source, to="es", run_dir=tmp_path / "moved")
    assert all(r.cached for r in result.reports)
    assert result.artifacts[BLOB].path.is_relative_to(tmp_path / "moved")


def test_a_crash_leaves_no_artifact_and_the_rerun_redoes_the_stage(tmp_path: Path, source: Path) -> None:
    class Crash(SplitStage):
        def run(self, ctx: StageContext, inputs: Artifacts) -> Words:
            (ctx.work_dir / "half-written").write_text("x")
            raise RuntimeError("power cut")

    with pytest.raises(StageError) as info:
        Pipeline([CopyStage(), Crash()]).run(source, to="es", run_dir=tmp_path / "run")
    assert info.value.stage == "split"
    assert isinstance(info.value.__cause__, RuntimeError)
    result = Pipeline([CopyStage(), SplitStage()]).run(source, to="es", run_dir=tmp_path / "run")
    assert [r.cached for r in result.reports] == [True, False]
    assert not list((tmp_path / "run").rglob("half-written"))


def test_a_missing_artifact_file_invalidates_the_artifact(tmp_path: Path, source: Path) -> None:
    copy = CopyStage()
    first = Pipeline([copy, SplitStage()]).run(source, to="es", run_dir=tmp_path / "run")
    first.artifacts[BLOB].path.unlink()
    Pipeline([copy, SplitStage()]).run(source, to="es", run_dir=tmp_path / "run")
    assert copy.runs == 2


def test_temp_files_of_an_interrupted_write_are_swept(tmp_path: Path, source: Path) -> None:
    run = tmp_path / "run"
    (run / "units" / "x").mkdir(parents=True)
    stale = run / "units" / "x" / ".clip.123.tmp.wav"
    stale.write_bytes(b"partial")
    Pipeline([CopyStage()]).run(source, to="es", run_dir=run)
    assert not stale.exists()


def test_progress_events_in_order(tmp_path: Path, source: Path) -> None:
    events: list[ProgressEvent] = []
    pipeline = Pipeline([CopyStage(), SplitStage()])
    pipeline.run(source, to="es", run_dir=tmp_path / "run", progress=events.append)
    split_events = [e for e in events if e.stage == "split"]
    assert split_events[0].state is ProgressState.STARTED
    assert split_events[-1].state is ProgressState.FINISHED
    fractions = [e.fraction for e in split_events if e.state is ProgressState.RUNNING]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {e.total for e in events} == {2}
    events.clear()
    pipeline.run(source, to="es", run_dir=tmp_path / "run", progress=events.append)
    assert [e.state for e in events] == [ProgressState.SKIPPED, ProgressState.SKIPPED]


def test_a_broken_progress_hook_does_not_break_the_run(tmp_path: Path, source: Path) -> None:
    def hook(event: ProgressEvent) -> None:
        raise RuntimeError("ui gone")

    result = Pipeline([CopyStage()]).run(source, to="es", run_dir=tmp_path / "run", progress=hook)
    assert result.artifacts[BLOB].size > 0


def test_cancel_stops_between_units_and_leaves_no_artifact(tmp_path: Path, source: Path) -> None:
    token = CancelToken()
    split = SplitStage(cancel_after=1, token=token)
    with pytest.raises(CancelledError) as info:
        Pipeline([CopyStage(), split]).run(source, to="es", run_dir=tmp_path / "run", cancel=token)
    assert info.value.stage == "split"
    assert split.calls == 2  # the third word was never started
    assert not list((tmp_path / "run").glob("stages/split-*/artifact.json"))


def test_a_failing_unit_is_retried_then_reported_and_the_rest_completes(tmp_path: Path, source: Path) -> None:
    split = SplitStage(fail_on="beta")
    result = Pipeline([CopyStage(), split], retries=2).run(source, to="es", run_dir=tmp_path / "run")
    assert result.artifacts[WORDS].words == ("alpha", "gamma", "delta")
    issues = result.reports[1].issues
    assert [i.segment_id for i in issues] == ["beta"]
    assert "cannot handle beta" in issues[0].message


def test_strict_mode_fails_on_the_first_failed_unit(tmp_path: Path, source: Path) -> None:
    with pytest.raises(StageError, match="beta"):
        Pipeline([CopyStage(), SplitStage(fail_on="beta")]).run(
            source, to="es", run_dir=tmp_path / "run", strict=True
        )


def test_graph_is_checked_when_the_pipeline_is_built() -> None:
    with pytest.raises(ConfigError, match="needs artifact 'blob'"):
        Pipeline([SplitStage()])
    with pytest.raises(ConfigError, match="unique"):
        Pipeline([CopyStage(), CopyStage()])

    class WrongType(SplitStage):
        inputs = (ArtifactKey("blob", Words),)

    with pytest.raises(ConfigError, match="expects 'blob'"):
        Pipeline([CopyStage(), WrongType()])


def test_languages_are_validated_before_any_work(tmp_path: Path, source: Path) -> None:
    copy = CopyStage()
    with pytest.raises(UnknownLanguageError) as info:
        Pipeline([copy]).run(source, to="xx", run_dir=tmp_path / "run")
    assert "es" in info.value.supported
    assert copy.runs == 0
    with pytest.raises(ConfigError, match="not found"):
        Pipeline([copy]).run(tmp_path / "missing.mp4", to="es", run_dir=tmp_path / "run")


def test_insert_and_replace_build_new_pipelines() -> None:
    base = Pipeline([CopyStage(), SplitStage()])

    class Extra(BaseStage[Words]):
        name = "extra"
        inputs = (WORDS,)
        output = ArtifactKey("extra", Words)

        def run(self, ctx: StageContext, inputs: Artifacts) -> Words:
            return inputs[WORDS]

    assert base.insert(Extra(), after="split").stage_names() == ["copy", "split", "extra"]
    assert base.replace("split", SplitStage(upper=True)).stage_names() == ["copy", "split"]
    with pytest.raises(ConfigError):
        base.stage("nope")


def test_release_backends_closes_each_stage_right_after_it_runs(tmp_path: Path, source: Path) -> None:
    order: list[str] = []

    class Tracked(SplitStage):
        def run(self, ctx: StageContext, inputs: Artifacts) -> Words:
            order.append("run")
            return super().run(ctx, inputs)

        def close(self) -> None:
            order.append("close")

    Pipeline([CopyStage(), Tracked()], release_backends=True).run(source, to="es", run_dir=tmp_path / "a")
    assert order == ["run", "close"]
    order.clear()
    Pipeline([CopyStage(), Tracked()]).run(source, to="es", run_dir=tmp_path / "b")
    assert order == ["run"]
