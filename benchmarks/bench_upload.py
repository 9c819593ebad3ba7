"""16 concurrent 200 MB uploads to the reference server: peak server RSS and /health latency meanwhile.

Starts ``dubkit serve`` on a free loopback port over a temporary data directory (local-disk storage, no API
key), then, from a separate client process, streams 16 uploads of 200 MiB at once. Each body is generated on
the fly (never read from a file): a multipart form whose file part is an MP4 ``ftyp`` box followed by zero
filler. The server streams it to its staging file, probes it, finds no playable stream and answers 415;
that is expected and counted: the benchmark measures the upload path (streamed parsing, staging, the size
check, the probe and the clean-up), not dubbing.

While the uploads run, this process samples the memory of the server process and its children (the
ffprobe/ffmpeg the probe runs) every 50 ms with psutil, and calls ``GET /api/v1/health`` in a loop on its own
connection (and, for comparison, for 3 s before the uploads start, which shows what the machine's other
load costs). Memory is reported three ways: the server process's RSS; RSS summed over the process tree
(which counts the shared FFmpeg libraries once per child, so it overstates); and PSS summed over the tree
(shared pages split between the processes mapping them: what the tree really holds). At the end it looks
for anything left behind in the data directory and in the server's private TMPDIR.

Targets (RELIABILITY.md): peak RSS <= 150 MB, /health p99 <= 250 ms, no temporary file left.

Run: .venv/bin/python benchmarks/bench_upload.py   (writes benchmarks/results/upload.json; ~3 GB of disk
for a minute, 2 CPU cores busy). A quick trial: ``--uploads 2 --mib 20 --out /tmp/upload.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import platform
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psutil

CONCURRENT = 16
UPLOAD_BYTES = 200 * 1024 * 1024
CHUNK = 256 * 1024
RSS_INTERVAL_S = 0.05
HEALTH_PAUSE_S = 0.02
IDLE_HEALTH_S = 3.0
TARGET_RSS_MB = 150.0
TARGET_HEALTH_P99_MS = 250.0
# An ISO base-media "ftyp" box: the start of a real MP4 file. The zeros after it hold no "moov" box.
MEDIA_HEADER = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
FILLER = bytes(CHUNK)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _start_server(data_dir: Path, tmp_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TMPDIR": str(tmp_dir), "DUBKIT_LOG_LEVEL": "WARNING"}
    env.pop("DUBKIT_API_KEYS", None)
    dubkit = Path(sys.executable).with_name("dubkit")
    argv = [str(dubkit), "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir)]
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_ready(base: str, server: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            err = server.stderr.read().decode(errors="replace") if server.stderr else ""
            raise SystemExit(f"the server exited with {server.returncode}:\n{err}")
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit("the server did not answer /health in time")


# ------------------------------------------------------------------ the client process


async def _one_upload(client: httpx.AsyncClient, url: str, index: int, size_bytes: int) -> dict[str, Any]:
    boundary = secrets.token_hex(16)
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="source_language"\r\n\r\nen\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="target_language"\r\n\r\nes\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="bench{index}.mp4"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        yield MEDIA_HEADER
        sent = len(MEDIA_HEADER)
        while sent < size_bytes:
            size = min(CHUNK, size_bytes - sent)
            yield FILLER if size == CHUNK else FILLER[:size]
            sent += size
        yield tail

    headers = {
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + size_bytes + len(tail)),
    }
    start = time.perf_counter()
    try:
        response = await client.post(url, content=body(), headers=headers)
    except httpx.HTTPError as exc:
        return {
            "status": None,
            "error": f"{type(exc).__name__}: {exc}",
            "seconds": time.perf_counter() - start,
        }
    code = None
    if response.headers.get("content-type", "").endswith("json"):
        code = response.json().get("code")
    return {
        "status": response.status_code,
        "code": code,
        "seconds": time.perf_counter() - start,
        "answered_at": time.monotonic(),  # CLOCK_MONOTONIC: comparable across processes
    }


async def _all_uploads(base: str, count: int, size_bytes: int) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=count)
    async with httpx.AsyncClient(timeout=httpx.Timeout(600.0), limits=limits) as client:
        url = f"{base}/api/v1/upload"
        return await asyncio.gather(*(_one_upload(client, url, i, size_bytes) for i in range(count)))


def _client_process(base: str, count: int, size_bytes: int, start_event: Any, results: Any) -> None:
    start_event.wait()
    began = time.perf_counter()
    uploads = asyncio.run(_all_uploads(base, count, size_bytes))
    results.put({"uploads": uploads, "wall_s": time.perf_counter() - began})


# ------------------------------------------------------------------ samplers in this process


class _RssSampler(threading.Thread):
    """Samples the memory of the server process and of its children (ffprobe, ffmpeg) separately.

    RSS counts the shared libraries of every child again (libavcodec and friends); PSS splits shared pages
    between the processes that map them, so the PSS sum is the memory the whole tree really holds.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.samples: list[tuple[float, float, float]] = []  # (server RSS, children RSS, tree PSS), MB
        self.child_peaks: dict[str, float] = {}
        self.stop = threading.Event()

    def sample(self) -> tuple[float, float, float]:
        mib = 1024 * 1024
        server = children = pss = 0.0
        with contextlib.suppress(psutil.Error):
            info = self.process.memory_full_info()
            server, pss = info.rss / mib, info.pss / mib
        for child in self.process.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                info = child.memory_full_info()
                children += info.rss / mib
                pss += info.pss / mib
                name = child.name()
                self.child_peaks[name] = max(self.child_peaks.get(name, 0.0), info.rss / mib)
        return server, children, pss

    def run(self) -> None:
        while not self.stop.is_set():
            self.samples.append(self.sample())
            self.stop.wait(RSS_INTERVAL_S)


class _HealthProbe(threading.Thread):
    def __init__(self, base: str) -> None:
        super().__init__(daemon=True)
        self.url = f"{base}/api/v1/health"
        self.latencies_ms: list[float] = []
        self.sent_at: list[float] = []
        self.errors = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=10.0) as client:
            while not self.stop.is_set():
                start = time.perf_counter()
                try:
                    ok = client.get(self.url).status_code == 200
                except httpx.HTTPError:
                    ok = False
                elapsed = (time.perf_counter() - start) * 1000
                if ok:
                    self.latencies_ms.append(elapsed)
                    self.sent_at.append(time.monotonic() - elapsed / 1000)
                else:
                    self.errors += 1
                self.stop.wait(HEALTH_PAUSE_S)


def _percentile(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=1000, method="inclusive")[round(q * 1000) - 1]


def _leftovers(data_dir: Path, tmp_dir: Path) -> list[str]:
    """Files the uploads left: anything but the job store's SQLite files."""
    left = []
    for root in (data_dir, tmp_dir):
        for path in root.rglob("*"):
            if path.is_file() and not path.name.startswith("jobs.db"):
                left.append(str(path.relative_to(root.parent)))
    return sorted(left)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=CONCURRENT, help="concurrent uploads")
    parser.add_argument("--mib", type=int, default=UPLOAD_BYTES // (1024 * 1024), help="MiB per upload")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "upload.json")
    args = parser.parse_args()
    count, size_bytes = args.uploads, args.mib * 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="dubkit-bench-upload-") as tmp:
        data_dir, tmp_dir = Path(tmp) / "data", Path(tmp) / "server-tmp"
        data_dir.mkdir()
        tmp_dir.mkdir()
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = _start_server(data_dir, tmp_dir, port)
        try:
            _wait_ready(base, server)
            rss = _RssSampler(server.pid)
            idle_server_mb, idle_children_mb, _ = rss.sample()
            idle_rss_mb = idle_server_mb + idle_children_mb
            load_before = os.getloadavg()[0]
            # /health of the idle server first: what the machine's other load costs without uploads.
            idle_health = _HealthProbe(base)
            idle_health.start()
            time.sleep(IDLE_HEALTH_S)
            idle_health.stop.set()
            idle_health.join()
            ctx = multiprocessing.get_context("spawn")
            start_event, results = ctx.Event(), ctx.Queue()
            client = ctx.Process(target=_client_process, args=(base, count, size_bytes, start_event, results))
            client.start()
            health = _HealthProbe(base)
            rss.start()
            health.start()
            start_event.set()
            report = results.get(timeout=900)
            client.join()
            health.stop.set()
            rss.stop.set()
            health.join()
            rss.join()
            time.sleep(0.5)  # let the last request's clean-up finish
            left = _leftovers(data_dir, tmp_dir)
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()

    uploads = report["uploads"]
    total_bytes = size_bytes * count
    latencies = health.latencies_ms
    # Split /health at the first upload's answer: before it every upload is streaming in; after it the
    # uploads are being probed (ffprobe/ffmpeg), answered and cleaned up.
    first_answer = min((u["answered_at"] for u in uploads if "answered_at" in u), default=float("inf"))
    streaming = [ms for ms, at in zip(latencies, health.sent_at, strict=True) if at < first_answer]
    probing = [ms for ms, at in zip(latencies, health.sent_at, strict=True) if at >= first_answer]
    out = {
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "server": "dubkit serve (uvicorn, in-process runner, local-disk storage, no API key)",
        "concurrent_uploads": count,
        "upload_mib": args.mib,
        "body": "multipart, Content-Length, generated on the fly: ftyp box + zero filler (415 expected)",
        "responses": dict(Counter(str(u["status"]) for u in uploads)),
        "problem_codes": dict(Counter(str(u.get("code")) for u in uploads)),
        "client_errors": [u["error"] for u in uploads if u.get("error")],
        "wall_s": round(report["wall_s"], 2),
        "upload_s": {
            "min": round(min(u["seconds"] for u in uploads), 2),
            "max": round(max(u["seconds"] for u in uploads), 2),
        },
        "throughput_mb_s": round(total_bytes / (1024 * 1024) / report["wall_s"], 1),
        "idle_rss_mb": round(idle_rss_mb, 1),
        "peak_rss_mb": round(max(a + b for a, b, _ in rss.samples), 1),
        "peak_rss_server_process_mb": round(max(a for a, _, _ in rss.samples), 1),
        "peak_rss_children_mb": round(max(b for _, b, _ in rss.samples), 1),
        "peak_pss_mb": round(max(c for _, _, c in rss.samples), 1),
        "peak_rss_by_child_mb": {name: round(mb, 1) for name, mb in sorted(rss.child_peaks.items())},
        "rss_samples": len(rss.samples),
        "idle_health_p50_ms": round(_percentile(idle_health.latencies_ms, 0.50), 2),
        "idle_health_p99_ms": round(_percentile(idle_health.latencies_ms, 0.99), 2),
        "load_average_1min": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "health_samples": len(latencies),
        "health_errors": health.errors,
        "health_p50_ms": round(_percentile(latencies, 0.50), 2),
        "health_p99_ms": round(_percentile(latencies, 0.99), 2),
        "health_max_ms": round(max(latencies), 2) if latencies else None,
        "health_p99_ms_while_streaming": round(_percentile(streaming, 0.99), 2),
        "health_p99_ms_while_probing": round(_percentile(probing, 0.99), 2),
        "health_samples_streaming_probing": [len(streaming), len(probing)],
        "temp_files_left": left,
        "targets": {"peak_rss_mb": TARGET_RSS_MB, "health_p99_ms": TARGET_HEALTH_P99_MS},
    }
    out["meets_targets"] = {
        "peak_rss_mb (server + children RSS, shared libraries counted per child)": out["peak_rss_mb"]
        <= TARGET_RSS_MB,
        "peak_rss_server_process_mb": out["peak_rss_server_process_mb"] <= TARGET_RSS_MB,
        "peak_pss_mb (server + children, shared pages split)": out["peak_pss_mb"] <= TARGET_RSS_MB,
        "health_p99_ms": out["health_p99_ms"] <= TARGET_HEALTH_P99_MS and health.errors == 0,
        "no_temp_files_left": not left,
    }
    path = args.out
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
