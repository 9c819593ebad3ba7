"""On S3 storage (moto's server on loopback), a download is a redirect to a presigned URL that works."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from local_services import BUCKET

from dubkit.testing import SampleVideo

from .conftest import LiveServer
from .helpers import upload_job, wait_finished


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
