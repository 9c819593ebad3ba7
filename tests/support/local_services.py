"""Real local services for the tests: free loopback ports, a throwaway ``redis-server``, moto's S3 server.

On ``sys.path`` through pytest's ``pythonpath`` setting (pyproject.toml): ``from local_services import ...``.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dubkit.storage import FsspecStorage, S3Options

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


BUCKET = "dubkit-test"
"""The bucket `moto_s3` creates."""


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def redis_server(folder: Path, timeout: float = 10.0) -> Iterator[str]:
    """Start ``redis-server`` in ``folder``, wait until it answers PING, yield its URL, stop it after."""
    import redis

    port = free_port()
    proc = subprocess.Popen(
        [
            REDIS_SERVER,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if client.ping():
                    break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not start (exit {proc.poll()})") from None
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def moto_s3() -> Iterator[str]:
    """Start moto's S3 server on a free loopback port, create `BUCKET`, yield its URL, stop it after."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{server._port}"
    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=BUCKET)
        yield endpoint
    finally:
        server.stop()


def s3_options(endpoint: str) -> S3Options:
    """How the tests reach the endpoint."""
    return S3Options(endpoint_url=endpoint, key="testing", secret="testing", region="us-east-1")


def s3_storage(endpoint: str, prefix: str | None = None) -> FsspecStorage:
    """Storage under ``prefix`` (default: a fresh random one) of the bucket."""
    return FsspecStorage(f"s3://{BUCKET}/{prefix or uuid.uuid4().hex}", s3=s3_options(endpoint))
