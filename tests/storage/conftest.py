from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from dubkit.storage import FsspecStorage, S3Options

BUCKET = "dubkit-test"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A real S3 endpoint: moto's server on a free local port, with one bucket."""
    boto3 = pytest.importorskip("boto3")
    server_mod = pytest.importorskip("moto.server")
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=_free_port(), verbose=False)
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


@pytest.fixture(params=["local", "memory", "s3"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> FsspecStorage:
    unique = uuid.uuid4().hex
    if request.param == "local":
        return FsspecStorage((tmp_path / "root").as_uri())
    if request.param == "memory":
        return FsspecStorage(f"memory://dubkit-{unique}")
    endpoint = request.getfixturevalue("s3_endpoint")
    options = S3Options(endpoint_url=endpoint, key="testing", secret="testing", region="us-east-1")
    return FsspecStorage(f"s3://{BUCKET}/{unique}", s3=options)
