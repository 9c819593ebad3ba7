"""Typed options for storage backends, passed in explicitly (never read from the environment here)."""

from __future__ import annotations

import attrs

__all__ = ["S3Options"]


@attrs.frozen
class S3Options:
    """How to reach an S3-compatible store.

    When ``key`` and ``secret`` are both ``None`` and ``anon`` is false, botocore's own credential chain
    applies (instance roles, ``~/.aws``); dubkit itself reads no environment variables.

    Attributes:
        endpoint_url: For S3-compatible services and tests (MinIO, moto); ``None`` for AWS.
        key: The access key id.
        secret: The secret access key.
        token: A session token, for temporary credentials.
        region: The region name, when the endpoint needs one.
        anon: Access public buckets without credentials.
    """

    endpoint_url: str | None = None
    key: str | None = None
    secret: str | None = attrs.field(default=None, repr=False)
    token: str | None = attrs.field(default=None, repr=False)
    region: str | None = None
    anon: bool = False

    def to_s3fs(self) -> dict[str, object]:
        """Keyword arguments for ``s3fs.S3FileSystem``."""
        kwargs: dict[str, object] = {"anon": self.anon, "skip_instance_cache": True}
        if self.endpoint_url is not None:
            kwargs["endpoint_url"] = self.endpoint_url
        if self.key is not None:
            kwargs["key"] = self.key
        if self.secret is not None:
            kwargs["secret"] = self.secret
        if self.token is not None:
            kwargs["token"] = self.token
        if self.region is not None:
            kwargs["client_kwargs"] = {"region_name": self.region}
        return kwargs
