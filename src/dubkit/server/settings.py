"""The reference server's settings (pydantic-settings, ``DUBKIT_*`` environment variables)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import NoDecode

from dubkit.pipeline.build import PipelineConfig
from dubkit.pipeline.warm import DEFAULT_MEMORY_BUDGET
from dubkit.server.rates import parse_rates
from dubkit.settings import Settings
from dubkit.storage import S3Options

__all__ = ["ServerSettings", "load_pipeline_config"]

StrList = Annotated[list[str], NoDecode]


class ServerSettings(Settings):
    """Settings of ``dubkit serve`` and `dubkit.server.create_app`.

    Lists (``DUBKIT_API_KEYS``, ``DUBKIT_CORS_ORIGINS``, ``DUBKIT_TRUSTED_HOSTS``) are read from the
    environment as comma-separated values or a JSON array.

    Attributes:
        broker_url: A Redis URL (``redis://host:6379/0``): jobs go to ``dubkit worker`` processes through
            Dramatiq and no dubbing happens in the server. ``None``: an in-process runner dubs here.
        preview_max_seconds: The longest preview clip a client may ask for.
        api_keys: Hashed API keys, ``owner:sha256hex`` each (make one with ``dubkit serve --hash-key``).
            Empty: no authentication, every request is the single local user ``local``.
        pipeline_config: A JSON file of pipeline settings (backend names and options, as for
            ``dubkit worker --config``); ``None``: the default backends.
        runner_workers: Worker threads of the in-process runner (jobs dubbed at the same time).
        model_memory_budget: Bytes of loaded models the in-process runner keeps between jobs.
        probe_concurrency: Uploads checked (probed with ffprobe/ffmpeg) at the same time; more wait, so
            many uploads finishing together do not start one ffmpeg each.
        runner_poll_seconds: How often an idle in-process worker looks for a new job.
        cors_origins: Origins allowed to call the API from a browser (none by default).
        trusted_hosts: Host headers accepted (``*`` accepts any).
        presigned_url_seconds: How long a presigned S3 download URL stays valid.
        s3_endpoint_url: For S3-compatible services (MinIO); ``None`` for AWS.
        s3_region: The S3 region, when the endpoint needs one.
        s3_access_key_id: With ``s3_secret_access_key``; both ``None``: botocore's credential chain.
        s3_secret_access_key: The secret key (never logged).
        max_active_jobs_per_owner: Jobs one owner may have waiting or running at once; an upload that
            would pass it is refused (429). ``0``: no limit.
        upload_rate_limit: How many uploads (``POST /upload`` and tus creations) one caller may start, in
            the notation of the ``limits`` library (``10/minute``, ``10/minute;100/hour``); empty or
            ``0``: no limit. The default leaves room for the 16 concurrent uploads the server is built
            (and benchmarked) for.
        api_rate_limit: How many other API requests (and progress WebSockets) one caller may make;
            ``/health`` and the web page are never limited. Empty or ``0``: no limit.
        tus_expiry_seconds: How long a resumable (tus) upload may stay unfinished before it is swept.
        tus_max_pending_uploads: Unfinished resumable uploads one owner may hold at once.
        tus_max_pending_bytes: The total announced length of one owner's unfinished resumable uploads.
    """

    broker_url: str | None = None
    preview_max_seconds: float = Field(default=60.0, gt=0, le=3600)
    api_keys: StrList = Field(default_factory=list)
    pipeline_config: Path | None = None
    runner_workers: int = Field(default=1, ge=1, le=64)
    probe_concurrency: int = Field(default=2, ge=1, le=64)
    model_memory_budget: int = Field(default=DEFAULT_MEMORY_BUDGET, ge=0)
    runner_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    cors_origins: StrList = Field(default_factory=list)
    trusted_hosts: StrList = Field(default_factory=lambda: ["*"])
    presigned_url_seconds: int = Field(default=3600, ge=1, le=7 * 24 * 3600)
    s3_endpoint_url: str | None = None
    s3_region: str | None = None
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    max_active_jobs_per_owner: int = Field(default=4, ge=0)
    upload_rate_limit: str = "20/minute"
    api_rate_limit: str = "300/minute"
    tus_expiry_seconds: int = Field(default=24 * 3600, ge=60, le=30 * 24 * 3600)
    tus_max_pending_uploads: int = Field(default=8, ge=1, le=1000)
    tus_max_pending_bytes: int = Field(default=1024 * 1024 * 1024, gt=0)

    @field_validator("api_keys", "cors_origins", "trusted_hosts", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("upload_rate_limit", "api_rate_limit")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        text = value.strip()
        if text in ("", "0"):
            return ""
        parse_rates(text)  # raises ValueError for a malformed limit
        return text

    @property
    def db_path(self) -> Path:
        """The job store's SQLite file."""
        return self.data_dir / "jobs.db"

    @property
    def resolved_storage_url(self) -> str:
        """Where job files live: ``storage_url``, or ``<data_dir>/files``."""
        return self.storage_url or (self.data_dir / "files").as_uri()

    def s3_options(self) -> S3Options | None:
        """How to reach S3, for an ``s3://`` storage URL (``None`` for other storage)."""
        if not self.resolved_storage_url.startswith(("s3://", "s3a://")):
            return None
        secret = self.s3_secret_access_key
        return S3Options(
            endpoint_url=self.s3_endpoint_url,
            key=self.s3_access_key_id,
            secret=None if secret is None else secret.get_secret_value(),
            region=self.s3_region,
        )

    @property
    def upload_dir(self) -> Path:
        """Where an upload is staged while it streams in and is probed (removed right after)."""
        return self.data_dir / "uploads"


def load_pipeline_config(path: Path | None) -> PipelineConfig:
    """The pipeline settings from a JSON file (backend names and options), or the defaults.

    Raises:
        ConfigError: The file cannot be read or holds invalid settings.
    """
    if path is None:
        return PipelineConfig(low_memory=False)
    return PipelineConfig.from_json_file(path, field="pipeline_config")
