"""A real S3 endpoint for the runner tests: moto's server on a free 127.0.0.1 port, with one bucket."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from redis_server import free_port

from dubkit.storage import FsspecStorage, S3Options

BUCKET = "dubkit-jobs"


@contextmanager
def s3_server() -> Iterator[str]:
    """Start moto's S3 server, create the bucket, yield the endpoint URL, stop it after."""
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


def s3_storage(endpoint: str) -> FsspecStorage:
    """A fresh prefix of the bucket."""
    return FsspecStorage(f"s3://{BUCKET}/{uuid.uuid4().hex}", s3=s3_options(endpoint))
