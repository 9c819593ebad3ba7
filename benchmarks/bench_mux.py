"""Muxing a dub by stream copy against re-encoding the video (what moviepy-based dubbing tools do).

Generates a ~200 MB 720p h264 video once (kept in the temp folder between runs), then times (the median of
several runs):

- dubkit's mux: video copied packet for packet, the dub encoded to AAC, the original audio copied, two
  subtitle tracks, ``+faststart``;
- the baseline: the same video re-encoded with libx264 (preset ``medium``, CRF 23: moviepy's defaults)
  with the dub encoded to AAC, run straight through ffmpeg, which is a lower bound on moviepy's time (it
  also pipes every raw frame through Python).

Target: mux at most 2% of the re-encode. Run by hand, not by pytest:

    .venv/bin/python benchmarks/bench_mux.py [--seconds 60] [--repeats 5] [--reencode-repeats 1] [--fresh]

Writes benchmarks/results/mux.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from dubkit.media import extract_audio, find_ffmpeg, mux, probe
from dubkit.models.media import SubtitleCue

TARGET_BYTES = 200_000_000  # 200 MB: just under probe's default 200 MiB limit
RESULTS = Path(__file__).parent / "results" / "mux.json"


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_source(folder: Path, seconds: int, fresh: bool) -> Path:
    """A 720p25 h264 + AAC MP4 of about 200 MB (high bitrate, keyframe every 2 s)."""
    path = folder / f"source-720p-{seconds}s.mp4"
    if path.exists() and not fresh:
        return path
    bitrate = TARGET_BYTES * 8 // seconds
    started = time.perf_counter()
    ffmpeg(
        "-f",
        "lavfi",
        "-i",
        f"testsrc2=s=1280x720:r=25:d={seconds},noise=alls=12:allf=t",
        "-f",
        "lavfi",
        "-i",
        f"sine=f=220:d={seconds}:r=48000",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-b:v",
        str(bitrate),
        "-maxrate",
        str(bitrate),
        "-bufsize",
        str(bitrate * 2),
        "-g",
        "50",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-ac",
        "2",
        "-shortest",
        "-movflags",
        "+faststart",
        str(path),
    )
    print(
        f"generated {path} ({path.stat().st_size / 2**20:.0f} MiB) in {time.perf_counter() - started:.1f} s"
    )
    return path


def median_time(run: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples), samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the generated video")
    parser.add_argument("--repeats", type=int, default=5, help="mux runs; the median is reported")
    parser.add_argument("--reencode-repeats", type=int, default=1, help="re-encode runs (slow)")
    parser.add_argument("--fresh", action="store_true", help="regenerate the source video")
    args = parser.parse_args()

    binaries = find_ffmpeg()
    cache = Path(tempfile.gettempdir()) / "dubkit-bench-mux"
    cache.mkdir(exist_ok=True)
    source = make_source(cache, args.seconds, args.fresh)
    with tempfile.TemporaryDirectory(prefix="dubkit-bench-") as temp:
        work = Path(temp)
        started = time.perf_counter()
        info = probe(source, ffmpeg=binaries)
        probe_s = time.perf_counter() - started
        dub = extract_audio(info, work / "audio", ffmpeg=binaries).full  # stands in for the mixed dub
        cues = [SubtitleCue(t, t + 1.5, f"línea {t:.0f}") for t in range(0, args.seconds - 2, 3)]

        def run_mux() -> Path:
            return mux(
                info,
                dub,
                cues_target=cues,
                cues_source=cues,
                target_language="es",
                source_language="en",
                out_path=work / "dub.mp4",
                ffmpeg=binaries,
            )

        def run_reencode() -> None:
            ffmpeg(
                "-i",
                str(source),
                "-i",
                str(dub.path),
                "-map",
                "0:v",
                "-map",
                "1:a",
                "-c:v",
                "libx264",
                "-preset",
                "medium",
                "-crf",
                "23",
                "-c:a",
                "aac",
                "-b:a",
                "128k",
                str(work / "reencoded.mp4"),
            )

        mux_s, mux_samples = median_time(run_mux, args.repeats)
        reencode_s, reencode_samples = median_time(run_reencode, args.reencode_repeats)
        output_bytes = (work / "dub.mp4").stat().st_size

    results = {
        "source": {
            "path": str(source),
            "bytes": source.stat().st_size,
            "seconds": info.duration,
            "video": "h264 1280x720 25 fps",
            "size_mib": round(source.stat().st_size / 2**20, 1),
        },
        "ffmpeg": binaries.version,
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "repeats": {"mux": args.repeats, "reencode": args.reencode_repeats},
        "probe_s": round(probe_s, 3),
        "mux_stream_copy_s": round(mux_s, 3),
        "mux_samples_s": [round(s, 3) for s in mux_samples],
        "reencode_libx264_medium_s": round(reencode_s, 3),
        "reencode_samples_s": [round(s, 3) for s in reencode_samples],
        "mux_output_bytes": output_bytes,
        "ratio_mux_to_reencode": round(mux_s / reencode_s, 4),
        "speedup": round(reencode_s / mux_s, 1),
        "target_ratio": 0.02,
        "meets_target": mux_s / reencode_s <= 0.02,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    temp_out = RESULTS.with_suffix(".json.tmp")
    temp_out.write_text(json.dumps(results, indent=2) + "\n")
    temp_out.replace(RESULTS)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
