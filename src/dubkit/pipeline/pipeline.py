"""The `Pipeline`: a declared sequence of stages, validated before work, resumable by design."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from typing_extensions import Self

from dubkit.backends.binding import BackendBinding
from dubkit.errors import CancelledError, ConfigError, DubkitError, StageError
from dubkit.models.languages import get_language
from dubkit.models.project import BackendChoice, DubProject, ProjectVoice
from dubkit.models.speech import Voice
from dubkit.pipeline.cache import ArtifactStore, hash_file
from dubkit.pipeline.context import StageContext
from dubkit.pipeline.keys import SOURCE
from dubkit.pipeline.memory import release_free_memory
from dubkit.pipeline.progress import CancelToken, ProgressEvent, ProgressHook, ProgressState
from dubkit.pipeline.report import build_project
from dubkit.pipeline.result import DubResult, StageReport
from dubkit.pipeline.stage import ArtifactKey, Artifacts, RunRequest, SourceFile, Stage
from dubkit.pipeline.stage_record import devices_from_record, devices_to_record

__all__ = ["Pipeline"]

logger = logging.getLogger(__name__)


def _no_progress(event: ProgressEvent) -> None:
    """Discard progress."""


class Pipeline:
    """A sequence of stages that turns a media file into a dub.

    Build one with `dubkit.pipeline.build.build_pipeline` (the standard 11 stages with chosen
    backends) or from your own stages. A pipeline holds loaded backends: reuse it for several runs,
    and close it (or use it as a context manager) to free them.

    Args:
        stages: The stages, in order.
        retries: How often a failing unit (a segment) is retried before it is marked failed.
        release_backends: Close each stage (freeing its models) as soon as it has run, so only one
            model is in memory at a time. Right for one-off dubs; a worker that dubs many files keeps
            models warm instead (the default).
    """

    def __init__(
        self, stages: Sequence[Stage[Any]], *, retries: int = 1, release_backends: bool = False
    ) -> None:
        self._stages: tuple[Stage[Any], ...] = tuple(stages)
        self.retries = retries
        self.release_backends = release_backends
        self._check_graph()

    @property
    def stages(self) -> tuple[Stage[Any], ...]:
        """The stages, in order."""
        return self._stages

    def stage(self, name: str) -> Stage[Any]:
        """The stage called ``name``.

        Raises:
            ConfigError: no such stage.
        """
        for stage in self._stages:
            if stage.name == name:
                return stage
        raise ConfigError(f"no stage named {name!r}", field="stage", hint=f"stages: {self.stage_names()}")

    def stage_names(self) -> list[str]:
        """Names of the stages, in order."""
        return [s.name for s in self._stages]

    def insert(self, stage: Stage[Any], *, after: str) -> Pipeline:
        """A new pipeline with ``stage`` inserted after the stage named ``after``."""
        index = self.stage_names().index(self.stage(after).name)
        return Pipeline(
            [*self._stages[: index + 1], stage, *self._stages[index + 1 :]],
            retries=self.retries,
            release_backends=self.release_backends,
        )

    def replace(self, name: str, stage: Stage[Any]) -> Pipeline:
        """A new pipeline with the stage called ``name`` replaced by ``stage``."""
        self.stage(name)
        return Pipeline(
            [stage if s.name == name else s for s in self._stages],
            retries=self.retries,
            release_backends=self.release_backends,
        )

    # --- validation -------------------------------------------------------------------------------

    def _check_graph(self) -> None:
        produced: dict[str, ArtifactKey[Any]] = {SOURCE.name: SOURCE}
        names: set[str] = set()
        for stage in self._stages:
            if not stage.name or stage.name in names:
                raise ConfigError(f"stage names must be unique and non-empty: {stage.name!r}", field="stages")
            names.add(stage.name)
            for key in stage.inputs:
                if key.name not in produced:
                    raise ConfigError(
                        f"stage {stage.name!r} needs artifact {key.name!r}, which no earlier stage produces",
                        field="stages",
                    )
                if produced[key.name].type is not key.type:
                    raise ConfigError(
                        f"stage {stage.name!r} expects {key.name!r} as {key.type!r}, "
                        f"but it is produced as {produced[key.name].type!r}",
                        field="stages",
                    )
            produced[stage.output.name] = stage.output

    def validate(self, request: RunRequest) -> None:
        """Check everything that can be checked before any work: languages, backends, options, devices.

        Raises:
            ConfigError: an unknown language, an unsupported pair, an invalid option, or a device asked
                for that cannot be used here (``device="cuda"`` without a GPU or its packages).
            BackendError: a backend that is missing, unavailable or invalid.
        """
        get_language(request.target_language)
        if request.source_language is not None:
            get_language(request.source_language)
        for stage in self._stages:
            stage.validate(request)
            for binding in _bindings(stage):
                binding.check_device()

    # --- running ----------------------------------------------------------------------------------

    def make_request(
        self,
        source: str | Path,
        *,
        to: str,
        source_language: str | None = None,
        edits: Mapping[str, str] | None = None,
        voices: Mapping[str, Voice] | None = None,
        keep_original: Collection[str] | None = None,
        keep_gain_db: float | None = None,
        strict: bool = False,
    ) -> RunRequest:
        """Build a validated `RunRequest` (the input is hashed, not yet probed).

        Raises:
            ConfigError: the input does not exist, or the request is invalid.
        """
        path = Path(source).expanduser()
        if not path.is_file():
            raise ConfigError(f"input file not found: {path}", field="input")
        request = RunRequest(
            source=SourceFile(path=path.resolve(), sha256=hash_file(path), size=path.stat().st_size),
            target_language=get_language(to).code,
            source_language=None if source_language in (None, "auto") else get_language(source_language).code,
            translation_edits=tuple(sorted((edits or {}).items())),
            voice_edits=tuple(sorted((voices or {}).items())),
            keep_original=tuple(sorted(set(keep_original or ()))),
            keep_gain_db=keep_gain_db,
            strict=strict,
        )
        self.validate(request)
        return request

    def run(
        self,
        source: str | Path,
        *,
        to: str,
        run_dir: str | Path,
        source_language: str | None = None,
        progress: ProgressHook | None = None,
        cancel: CancelToken | None = None,
        edits: Mapping[str, str] | None = None,
        voices: Mapping[str, Voice] | None = None,
        keep_original: Collection[str] | None = None,
        strict: bool = False,
    ) -> DubResult:
        """Dub ``source`` into the language ``to``; stages whose artifacts exist in ``run_dir`` are skipped.

        Args:
            source: The input video or audio file.
            to: Target language (ISO 639-1).
            run_dir: Where artifacts live; reuse it to resume or to re-dub incrementally.
            source_language: The speech's language, or ``None``/``"auto"`` to detect it.
            progress: Receives progress events.
            cancel: Stops the run at the next unit of work when cancelled.
            edits: Segment id -> translation, overriding the translator.
            voices: Speaker label -> voice, overriding the default voice assignment.
            keep_original: Segment ids that play their original speech instead of a dubbed line.
            strict: Fail on the first failed segment instead of finishing a partial dub.

        Returns:
            The result: the dub project, the output files and per-stage reports.

        Raises:
            ConfigError: invalid request (before any work).
            BackendError: a backend is unknown, unavailable or invalid (before any work).
            MediaError: the input is not acceptable media.
            StageError: a stage failed.
            CancelledError: ``cancel`` was cancelled.
        """
        request = self.make_request(
            source,
            to=to,
            source_language=source_language,
            edits=edits,
            voices=voices,
            keep_original=keep_original,
            strict=strict,
        )
        return self.execute(request, run_dir=Path(run_dir), progress=progress, cancel=cancel)

    def redub(
        self,
        project: DubProject | str | Path,
        *,
        run_dir: str | Path | None = None,
        source: str | Path | None = None,
        progress: ProgressHook | None = None,
        cancel: CancelToken | None = None,
    ) -> DubResult:
        """Re-run a dub from its (edited) project: only what the edits touch is redone.

        The project's edits are its sentences' and segments' translations that differ from the machine's
        (a sentence's edit is split into its lines again; a line's edit is that piece alone), its speakers'
        voices, and the segments marked ``keep_original``. The mix keeps the project's gain while the
        loudness stays near its target, so that the parts of the dub an edit does not reach stay the
        same bytes.

        Args:
            project: The project, or the path of its ``.dub.json``.
            run_dir: The run directory of the dub (default: the project's ``outputs.run_dir``).
            source: The input file (default: the project's ``source.path``), for a copy of the input that
                lives elsewhere; it must have the same content.
            progress: Receives progress events.
            cancel: Stops the run at the next unit of work when cancelled.

        Raises:
            ConfigError: the project is invalid, its run directory is unknown, or the input is not the
                one the project was made from.
        """
        if not isinstance(project, DubProject):
            project = DubProject.load(project)
        folder = run_dir or project.outputs.run_dir
        if folder is None:
            raise ConfigError("the project names no run directory; pass run_dir", field="run_dir")
        voices = {speaker: _voice_from_project(v) for speaker, v in project.voice_edits().items()}
        request = self.make_request(
            source if source is not None else project.source.path,
            to=project.target_language,
            source_language=project.requested_source_language,
            edits=project.translation_edits(),
            voices=voices,
            keep_original=project.kept_original(),
            keep_gain_db=project.quality.mix_gain_db,
        )
        if request.source.sha256 != project.source.sha256:
            raise ConfigError(
                f"{request.source.path.name} is not the input this project was made from"
                " (its content differs)",
                field="source",
                hint="re-dub with the original input, or dub the new file from scratch",
            )
        return self.execute(request, run_dir=Path(folder), progress=progress, cancel=cancel)

    def execute(
        self,
        request: RunRequest,
        *,
        run_dir: Path,
        progress: ProgressHook | None = None,
        cancel: CancelToken | None = None,
    ) -> DubResult:
        """Run a prepared request (see `run`)."""
        hook = progress or _no_progress
        token = cancel or CancelToken()
        store = ArtifactStore(run_dir)
        swept = store.sweep_temp_files()
        if swept:
            logger.info("removed %d temp files left by an interrupted run", swept)
        artifacts = Artifacts({SOURCE.name: request.source})
        digests: dict[str, str] = {SOURCE.name: request.source.sha256}
        reports: list[StageReport] = []
        total = len(self._stages)
        for index, stage in enumerate(self._stages):
            token.raise_if_cancelled(stage.name)
            report = self._run_stage(
                stage,
                index=index,
                total=total,
                request=request,
                store=store,
                artifacts=artifacts,
                digests=digests,
                hook=hook,
                token=token,
            )
            reports.append(report)
        project = build_project(
            request, artifacts, reports, run_dir=store.root, backends=self._backends(request, reports)
        )
        return DubResult(
            request=request, project=project, artifacts=artifacts, reports=tuple(reports), run_dir=store.root
        )

    def _run_stage(
        self,
        stage: Stage[Any],
        *,
        index: int,
        total: int,
        request: RunRequest,
        store: ArtifactStore,
        artifacts: Artifacts,
        digests: dict[str, str],
        hook: ProgressHook,
        token: CancelToken,
    ) -> StageReport:
        def emit(
            fraction: float,
            message: str = "",
            eta_seconds: float | None = None,
            state: ProgressState = ProgressState.RUNNING,
        ) -> None:
            try:
                hook(ProgressEvent(stage.name, fraction, message, state, index, total, eta_seconds))
            except Exception:  # a broken progress hook must never break a dub
                logger.exception("progress hook failed")

        key = store.stage_key(
            stage.name,
            stage.version,
            stage.fingerprint(request),
            {k.name: digests[k.name] for k in stage.inputs},
        )
        cached = store.load(stage.name, key, stage.output.type)
        if cached is not None:
            value, digest = cached
            emit(1.0, "cached", state=ProgressState.SKIPPED)
            artifacts.set(stage.output, value)
            digests[stage.output.name] = digest
            devices = devices_from_record(store.load_record(stage.name, key))
            return StageReport(stage.name, key, 0.0, cached=True, devices=devices)

        emit(0.0, "", state=ProgressState.STARTED)
        work_dir = store.begin(stage.name, key)
        ctx = StageContext(
            stage=stage.name,
            request=request,
            work_dir=work_dir,
            run_dir=store.root,
            report=emit,
            cancel=token,
            units=store.units,
            retries=self.retries,
        )
        started = time.perf_counter()
        try:
            value = stage.run(ctx, artifacts)
        except (DubkitError, CancelledError) as exc:
            emit(0.0, str(exc), state=ProgressState.FAILED)
            raise
        except Exception as exc:
            emit(0.0, str(exc), state=ProgressState.FAILED)
            raise StageError(stage.name, f"{type(exc).__name__}: {exc}") from exc
        finally:
            if self.release_backends:
                stage.close()
            release_free_memory()  # what the stage freed goes back to the system before the next one
        seconds = time.perf_counter() - started
        digest = store.commit(stage.name, key, value)
        artifacts.set(stage.output, value)
        digests[stage.output.name] = digest
        emit(1.0, f"{seconds:.1f}s", state=ProgressState.FINISHED)
        devices = tuple(
            (b.kind, b.name, use) for b in _bindings(stage) if (use := b.device_use()) is not None
        )
        if devices:
            store.save_record(stage.name, key, devices_to_record(devices))
        return StageReport(
            stage.name,
            key,
            seconds,
            cached=False,
            issues=tuple(ctx.issues),
            devices=devices,
            measurements=tuple(ctx.measurements.items()),
        )

    def _backends(self, request: RunRequest, reports: Sequence[StageReport]) -> dict[str, BackendChoice]:
        used = {(kind, name): use for report in reports for kind, name, use in report.devices}
        out = {}
        for stage in self._stages:
            fp = stage.fingerprint(request).get("backend")
            if isinstance(fp, Mapping) and {"kind", "name"} <= fp.keys():
                use = used.get((str(fp["kind"]), str(fp["name"])))
                out[str(fp["kind"])] = BackendChoice(
                    name=str(fp["name"]),
                    version=str(fp.get("version", "")),
                    options=dict(fp.get("options", {})),
                    device=use.device if use else None,
                    compute_type=(use.compute_type or None) if use else None,
                )
        return out

    # --- lifecycle --------------------------------------------------------------------------------

    def close(self) -> None:
        """Close every stage (and so free the backends they loaded)."""
        for stage in self._stages:
            stage.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Pipeline({' -> '.join(self.stage_names())})"


def _bindings(stage: Stage[Any]) -> list[BackendBinding[Any]]:
    """The backend bindings a stage holds (as attributes, alone or in a list or tuple)."""
    found: list[BackendBinding[Any]] = []
    for value in getattr(stage, "__dict__", {}).values():
        items = value if isinstance(value, (list, tuple)) else (value,)
        found.extend(item for item in items if isinstance(item, BackendBinding))
    return found


def _voice_from_project(voice: ProjectVoice) -> Voice:
    return Voice(
        id=voice.id,
        language=voice.language,
        rate=voice.rate,
        label=voice.label,
        gender=voice.gender,
        pitch=voice.pitch,
    )
