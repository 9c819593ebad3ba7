"""Dub quality on a generated lecture: timing, drift, intelligibility, loudness, and the cost of a re-dub.

A synthetic lecture (distinct sentences, two espeak-ng voices, a noise bed) is dubbed into Spanish with
the offline stack and the review stage; then one translated line is edited and the dub is redone.
Results go to ``benchmarks/results/quality.json``.

Run: .venv/bin/python benchmarks/bench_quality.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from dubkit import DubProject, PipelineConfig, build_pipeline
from dubkit.testing.sample_video import lecture_script, make_sample_video

RESULTS = Path(__file__).parent / "results" / "quality.json"


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(project: DubProject) -> dict[str, object]:
    """Timing and quality figures of a dub: every clip it plays (lines, and sentences played as one clip)."""
    placed = project.placed()  # (id, source start, source end, timing), in time order
    offsets = [abs(t.start - start) for _, start, _, t in placed]
    stretches = [t.stretch for *_, t in placed]
    ordered = [t for *_, t in placed]
    overlaps = sum(1 for a, b in itertools.pairwise(ordered) if a.end > b.start + 1e-6)
    last = max(placed, key=lambda p: p[1]) if placed else None
    wers = [
        s.quality.back_wer for s in (*project.segments, *project.sentences) if s.quality.back_wer is not None
    ]
    within = sum(1 for x in stretches if 0.85 <= x <= 1.2)
    return {
        "lines": len(project.segments),
        "placed": len(placed),
        "start_offset_mean_ms": round(1000 * statistics.fmean(offsets), 1) if offsets else None,
        "start_offset_max_ms": round(1000 * max(offsets), 1) if offsets else None,
        "overlaps": overlaps,
        "stretch_within_0.85_1.2_pct": round(100 * within / len(stretches), 1) if stretches else None,
        "stretch_p50": round(_percentile(stretches, 0.5), 3) if stretches else None,
        "stretch_p95": round(_percentile(stretches, 0.95), 3) if stretches else None,
        "stretch_max": round(max(stretches), 3) if stretches else None,
        "shorter_candidate_lines": sum(1 for t in ordered if t.candidate > 0),
        "faster_voice_lines": sum(1 for t in ordered if t.rate > 1.0),
        "end_of_video_drift_ms": round(1000 * abs(last[3].start - last[1]), 1) if last else None,
        "back_transcription_wer_mean": round(statistics.fmean(wers), 3) if wers else None,
        "loudness_lufs": project.quality.loudness_lufs,
        "flagged_lines": len(project.quality.flagged_segments),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dubkit-quality-") as tmp:
        folder = Path(tmp)
        sample = make_sample_video(folder / "lecture.mp4", script=lecture_script(args.minutes))
        config = PipelineConfig(review=True, n_best=1)
        load_before = os.getloadavg()[0]
        with build_pipeline(config) as pipeline:
            started = time.perf_counter()
            result = pipeline.run(sample.path, to="es", run_dir=folder / "run")
            full = time.perf_counter() - started
            exported = result.export(folder / "out")
            project = DubProject.load(exported.project)
            line = project.segments[len(project.segments) // 2]
            line.translation = "Esta línea fue corregida a mano por un editor."
            started = time.perf_counter()
            redone = pipeline.redub(project)
            redub = time.perf_counter() - started
        figures = measure(result.project)
        figures.update(
            {
                "media_seconds": round(sample.duration, 1),
                "full_run_seconds": round(full, 2),
                "redub_one_line_seconds": round(redub, 2),
                "redub_fraction_of_full_run": round(redub / full, 4),
                "redub_stages_redone": [r.name for r in redone.reports if not r.cached],
                "redub_stage_seconds": {r.name: round(r.seconds, 3) for r in redone.reports if not r.cached},
                "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
                "targets": {
                    "start_offset_mean_ms": 100,
                    "start_offset_max_ms": 250,
                    "overlaps": 0,
                    "stretch_within_0.85_1.2_pct": 95,
                    "end_of_video_drift_ms": 0,
                    "loudness_lufs": "-16 +/- 1",
                    "redub_fraction_of_full_run": 0.05,
                },
            }
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
