"""What only some backends do: local atomicity under a crash, and presigned URLs on S3."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from local_services import BUCKET, s3_options

from dubkit.errors import StorageError
from dubkit.storage import FsspecStorage, S3Options

CRASH = """
import os, sys
from dubkit.storage import FsspecStorage
storage = FsspecStorage(sys.argv[1])
with storage.open_write("alice/j1/output.mp4") as out:
    out.write(b"x" * 3_000_000)
    out.flush()
    os._exit(9)  # killed mid-write: no cleanup runs
"""


def test_local_crash_mid_write_leaves_no_final_file(tmp_path: Path) -> None:
    root = tmp_path / "root"
    result = subprocess.run([sys.executable, "-c", CRASH, root.as_uri()], check=False)
    assert result.returncode == 9
    folder = root / "alice" / "j1"
    assert not (folder / "output.mp4").exists()
    leftovers = [p.name for p in folder.iterdir()]
    assert len(leftovers) == 1
    assert leftovers[0].endswith(".dubkit-tmp")  # only the temp name, which listings hide
    storage = FsspecStorage(root.as_uri())
    assert storage.list() == []
    assert not storage.exists("alice/j1/output.mp4")


def test_local_root_as_plain_path(tmp_path: Path) -> None:
    storage = FsspecStorage(str(tmp_path))
    with storage.open_write("a/b") as out:
        out.write(b"hi")
    assert (tmp_path / "a" / "b").read_bytes() == b"hi"
    assert storage.presigned_url("a/b") is None


def test_presigned_url_is_fetchable_over_http(s3_endpoint: str) -> None:
    options = s3_options(s3_endpoint)
    storage = FsspecStorage(f"s3://{BUCKET}/presign", s3=options)
    with storage.open_write("alice/j1/output.mp4") as out:
        out.write(b"dubbed video bytes")
    url = storage.presigned_url("alice/j1/output.mp4", expires_s=300)
    assert url is not None
    assert url.startswith(s3_endpoint)
    assert "Signature" in url or "X-Amz-Signature" in url
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"dubbed video bytes"
    with pytest.raises(StorageError, match="expires_s"):
        storage.presigned_url("alice/j1/output.mp4", expires_s=0)


def test_bad_configuration_is_a_storage_error(s3_endpoint: str) -> None:
    with pytest.raises(StorageError, match="unsupported storage scheme"):
        FsspecStorage("ftp://example.com/x")
    with pytest.raises(StorageError, match="not s3"):
        FsspecStorage("memory://x", s3=S3Options(endpoint_url=s3_endpoint))
    options = s3_options(s3_endpoint)
    missing = FsspecStorage("s3://no-such-bucket/x", s3=options)
    with pytest.raises(StorageError) as info, missing.open_write("a/b") as out:
        out.write(b"data")
    assert info.value.__cause__ is not None
    assert "sekrit" not in repr(S3Options(key="id", secret="sekrit", token="sekrit"))
