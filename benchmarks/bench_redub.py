"""Re-dub after one edited line, through the HTTP API, against the original job: target at most 5% of it.

A real server (``dubkit serve`` in a subprocess, in-process runner, the default offline backends as in
``bench_dub.py``) gets the ten-minute generated lecture as an upload. Once it completes, one line in the
middle of the talk gets a new translation (``PATCH /jobs/{id}/segments/{segment_id}`` with its ETag) and
the re-dub is queued (``POST /jobs/{id}/redub``). Both are timed as a client sees them: from the upload's
first byte, and from the re-dub request, to the job reading ``completed`` (polled every 0.1 s). The
server's own figures (``processing_time_seconds``, the stages the re-dub ran) are recorded beside them.

Run: .venv/bin/python benchmarks/bench_redub.py [--minutes 10]   (writes benchmarks/results/redub.json)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from dubkit.testing.sample_video import lecture_script, make_sample_video

RESULTS = Path(__file__).parent / "results" / "redub.json"
TARGET = 0.05
NEW_TEXT = "Esta frase la ha corregido una persona que revisa el doblaje."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(data: Path, port: int) -> subprocess.Popen[bytes]:
    exe = shutil.which("dubkit", path=str(Path(sys.executable).parent)) or "dubkit"
    env = {**os.environ, "DUBKIT_API_RATE_LIMIT": "", "DUBKIT_UPLOAD_RATE_LIMIT": ""}
    proc = subprocess.Popen(
        [exe, "serve", "--port", str(port), "--data-dir", str(data)], env=env, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start")


def _wait(
    client: httpx.Client, job_id: str, started: float, timeout: float = 3600
) -> tuple[dict[str, Any], float]:
    while True:
        job: dict[str, Any] = client.get(f"/api/v1/jobs/{job_id}/status").json()
        if job["status"] in ("completed", "failed", "cancelled"):
            return job, time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            raise SystemExit(f"job {job_id} still {job['status']}")
        time.sleep(0.1)


def bench(minutes: float, folder: Path) -> dict[str, Any]:
    video = folder / f"talk-{minutes:g}min.mp4"
    sample = make_sample_video(video, script=lecture_script(minutes))
    port = _free_port()
    server = _serve(folder / "data", port)
    load_before = os.getloadavg()[0]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as client:
            started = time.perf_counter()
            with video.open("rb") as handle:
                created = client.post(
                    "/api/v1/upload",
                    files={"file": (video.name, handle, "video/mp4")},
                    data={"target_language": "es"},
                )
            created.raise_for_status()
            job_id = created.json()["jobs"][0]["id"]
            original, original_wall = _wait(client, job_id, started)
            if original["status"] != "completed":
                raise SystemExit(f"the dub failed: {original['error_message']}")

            lines = client.get(f"/api/v1/jobs/{job_id}/segments")
            lines.raise_for_status()
            segments = lines.json()["segments"]
            line = segments[len(segments) // 2]
            edited = client.patch(
                f"/api/v1/jobs/{job_id}/segments/{line['id']}",
                json={"translation": NEW_TEXT},
                headers={"If-Match": lines.headers["etag"]},
            )
            edited.raise_for_status()

            started = time.perf_counter()
            client.post(f"/api/v1/jobs/{job_id}/redub").raise_for_status()
            redone, redub_wall = _wait(client, job_id, started)
            if redone["status"] != "completed" or redone["result_version"] != 2:
                raise SystemExit(f"the re-dub failed: {redone['error_message']}")
            project = client.get(f"/api/v1/jobs/{job_id}/project").json()
    finally:
        server.terminate()
        server.wait(30)
    stages = project["quality"]["stage_seconds"]
    return {
        "media_seconds": round(sample.duration, 1),
        "segments": len(segments),
        "edited_line": {"id": line["id"], "start": round(line["start"], 2)},
        "original_wall_seconds": round(original_wall, 2),
        "original_processing_seconds": round(original["processing_time_seconds"], 2),
        "redub_wall_seconds": round(redub_wall, 2),
        "redub_processing_seconds": round(redone["processing_time_seconds"], 2),
        "redub_stages_run": {k: v for k, v in stages.items() if v > 0},
        "redub_fraction_of_original": round(redub_wall / original_wall, 4),
        "target_fraction": TARGET,
        "met": redub_wall / original_wall <= TARGET,
        # The machine's 1-minute load average before and after: figures taken on a busy machine are slower.
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dubkit-bench-redub-") as tmp:
        run = bench(args.minutes, Path(tmp))
    results = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", f"{args.minutes:g}min": run}
    print(json.dumps(results, indent=2), flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
