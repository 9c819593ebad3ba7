"""On S3 storage (moto's server on loopback), a download is a redirect to a presigned URL that works."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer

from dubkit.testing import SampleVideo

from .conftest import LiveServer
from .helpers import upload_job, wait_finished

BUCKET = "dubkit-server-test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
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


def test_download_redirects_to_a_presigned_url(
    start_server: Any, s3_endpoint: str, sample_video: SampleVideo
) -> None:
    server: LiveServer = start_server(
        storage_url=f"s3://{BUCKET}/{uuid.uuid4().hex}",
        s3_endpoint_url=s3_endpoint,
        s3_region="us-east-1",
        s3_access_key_id="testing",
        s3_secret_access_key="testing",
    )
    client = server.client()
    job = upload_job(client, sample_video.path, "es")
    done = wait_finished(client, job["id"])
    assert done["status"] == "completed", done["error_message"]
    response = client.get(f"/api/v1/jobs/{job['id']}/download")
    assert response.status_code == 307
    location = response.headers["location"]
    assert location.startswith(s3_endpoint) and "Signature" in location and "Expires" in location
    fetched = httpx.get(location, timeout=30)
    assert fetched.status_code == 200 and len(fetched.content) == done["output_size"]
    preview = client.get(f"/api/v1/jobs/{job['id']}/preview", params={"start": 0, "end": 2})
    assert preview.status_code == 200 and preview.headers["content-type"] == "video/mp4"
    assert client.get(f"/api/v1/jobs/{job['id']}/project").json()["target_language"] == "es"
