"""Application settings (pydantic-settings), read from ``DUBKIT_*`` environment variables.

Only the CLI and the server read settings; the library takes explicit arguments everywhere else.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """Settings of the ``dubkit`` CLI and server.

    Attributes:
        cache_dir: Where assembled models and shared caches live.
        log_level: Python logging level name.
        max_upload_bytes: The largest input accepted.
        data_dir: The job store (``jobs.db``), local storage (``files/``) and work folders live here.
        storage_url: Where job files live (``file:///...``, ``s3://bucket/prefix``); default
            ``<data_dir>/files``.
    """

    model_config = SettingsConfigDict(env_prefix="DUBKIT_", extra="ignore")

    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "dubkit")
    data_dir: Path = Field(default_factory=lambda: Path.home() / ".local" / "share" / "dubkit")
    storage_url: str | None = None
    log_level: str = "WARNING"
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, gt=0)
