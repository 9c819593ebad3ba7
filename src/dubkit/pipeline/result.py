"""What a run returns: the dub project, the files, and a report per stage."""

from __future__ import annotations

import base64
import html
import shutil
from pathlib import Path
from typing import Any

import attrs

from dubkit.backends.devices import DeviceUse
from dubkit.models.media import MuxedMedia
from dubkit.models.project import DubProject
from dubkit.models.speech import SegmentIssue, Transcript, Translation
from dubkit.pipeline.keys import OUTPUT, TRANSCRIPT, TRANSLATION
from dubkit.pipeline.stage import Artifacts, RunRequest

__all__ = ["DubResult", "ExportedDub", "StageReport"]

_EMBED_LIMIT = 25 * 1024 * 1024


def _media_src(path: Path) -> str:
    """A data URI for media small enough to embed in a notebook, else the file's path."""
    if path.stat().st_size <= _EMBED_LIMIT:
        mime = "video/mp4" if path.suffix == ".mp4" else "audio/mp4"
        return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return html.escape(path.as_posix())


@attrs.frozen(slots=True)
class StageReport:
    """How one stage went in a run.

    Attributes:
        name: The stage.
        key: Its artifact's content address.
        seconds: Wall time; 0 when skipped.
        cached: Whether its artifact existed and the stage was skipped.
        issues: Units (segments) that failed and were left out.
        devices: ``(kind, name, use)`` of each backend the stage ran on a device it chose (see
            `dubkit.backends.devices`); for a stage taken from the cache, those of the run that made
            its artifact (`dubkit.pipeline.stage_record`), or none where that run kept no record.
        measurements: What the stage measured in this run (`StageContext.measure`), such as the
            synthesize stage's ``cpu_seconds`` and ``speech_seconds``; empty when it came from the cache.
    """

    name: str
    key: str
    seconds: float
    cached: bool
    issues: tuple[SegmentIssue, ...] = ()
    devices: tuple[tuple[str, str, DeviceUse], ...] = ()
    measurements: tuple[tuple[str, float], ...] = ()

    def measured(self, name: str) -> float | None:
        """One of `measurements`, or ``None``."""
        return dict(self.measurements).get(name)


@attrs.frozen(slots=True)
class ExportedDub:
    """Files of one dub under their final names: ``<stem>.<lang>.mp4``, ``.srt``, ``.vtt``, ``.dub.json``."""

    media: Path
    srt: Path
    vtt: Path
    project: Path


@attrs.frozen(eq=False)
class DubResult:
    """The outcome of `Pipeline.run`.

    Attributes:
        request: What was asked.
        project: The dub project (segments, voices, timing, quality).
        artifacts: Every stage artifact of the run.
        reports: Per-stage timings and cache hits.
        run_dir: The run directory (reuse it to resume or re-dub).
    """

    request: RunRequest
    project: DubProject
    artifacts: Artifacts
    reports: tuple[StageReport, ...]
    run_dir: Path

    @property
    def output(self) -> MuxedMedia | None:
        """The muxed media and subtitle files inside the run directory."""
        return self.artifacts.get(OUTPUT)

    @property
    def transcript(self) -> Transcript | None:
        """The source transcript."""
        return self.artifacts.get(TRANSCRIPT)

    @property
    def translation(self) -> Translation | None:
        """The translation."""
        return self.artifacts.get(TRANSLATION)

    @property
    def complete(self) -> bool:
        """Whether every segment was dubbed (no failed segment)."""
        return not self.project.quality.failed_segments

    def export(self, out_dir: str | Path, stem: str | None = None) -> ExportedDub:
        """Copy the outputs to ``out_dir`` as ``<stem>.<lang>.<ext>`` and write the dub project beside them.

        Raises:
            StageError: the run produced no output (a pipeline without the mux stage).
        """
        from dubkit.errors import StageError

        output = self.output
        if output is None:
            raise StageError("mux", "this run produced no media output to export")
        folder = Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        base = f"{stem or self.request.source.path.stem}.{self.request.target_language}"
        media = folder / f"{base}{output.media.suffix}"
        srt, vtt = folder / f"{base}.srt", folder / f"{base}.vtt"
        for src, dst in ((output.media, media), (output.srt, srt), (output.vtt, vtt)):
            tmp = dst.with_name(f".{dst.name}.tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)
        project_path = folder / f"{base}.dub.json"
        outputs = self.project.outputs.model_copy(
            update={"media": media.name, "srt": srt.name, "vtt": vtt.name, "run_dir": str(self.run_dir)}
        )
        self.project.model_copy(update={"outputs": outputs}).save(project_path)
        return ExportedDub(media=media, srt=srt, vtt=vtt, project=project_path)

    def segment_rows(self) -> list[dict[str, Any]]:
        """One dict per segment: times, speaker, texts, stretch, flags (for tables and DataFrames)."""
        rows = []
        for seg in self.project.segments:
            rows.append(
                {
                    "id": seg.id,
                    "start": round(seg.start, 2),
                    "end": round(seg.end, 2),
                    "speaker": seg.speaker,
                    "source": seg.source_text,
                    "translation": seg.translation,
                    "stretch": seg.quality.stretch,
                    "offset": seg.quality.start_offset,
                    "flags": ", ".join(seg.quality.flags),
                    "status": seg.status,
                }
            )
        return rows

    def to_dataframe(self) -> Any:
        """The segment table as a pandas DataFrame (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.segment_rows())

    def _repr_html_(self) -> str:
        """A player for the dubbed media and the segment table (Jupyter)."""
        parts = []
        output = self.output
        if output is not None:
            tag = "video" if output.media.suffix == ".mp4" else "audio"
            parts.append(f'<{tag} controls width="480" src="{_media_src(output.media)}"></{tag}>')
        columns = ("id", "start", "end", "speaker", "source", "translation", "stretch", "flags")
        header = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in columns) + "</tr>"
            for row in self.segment_rows()
        )
        parts.append(f"<table><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return (
            f"DubResult({self.request.source.path.name} -> {self.request.target_language}, "
            f"{len(self.project.segments)} segments, run_dir={self.run_dir})"
        )
