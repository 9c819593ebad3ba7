"""API keys: stored as ``owner:sha256hex``, compared in constant time against every stored hash."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable

import attrs

from dubkit.errors import ConfigError

__all__ = ["LOCAL_OWNER", "ApiKeys", "hash_api_key", "new_api_key"]

LOCAL_OWNER = "local"
"""The single user of a server that has no API keys configured."""

_OWNER = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_HEX = re.compile(r"^[0-9a-f]{64}$")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def hash_api_key(owner: str, key: str) -> str:
    """The stored form of an API key: ``owner:sha256hex`` (put it in ``DUBKIT_API_KEYS``).

    Raises:
        ConfigError: ``owner`` is not 1-64 letters, digits, ``_``, ``.`` or ``-``, or ``key`` is shorter than
            16 characters.
    """
    if not _OWNER.match(owner) or owner in (".", ".."):
        raise ConfigError(f"invalid owner name {owner!r} (1-64 of A-Z a-z 0-9 _ . -)", field="owner")
    if len(key) < 16:
        raise ConfigError("an API key must have at least 16 characters", field="key")
    return f"{owner}:{_digest(key).hex()}"


def new_api_key() -> str:
    """A new random API key (43 URL-safe characters)."""
    return secrets.token_urlsafe(32)


@attrs.frozen
class _Entry:
    owner: str
    digest: bytes


class ApiKeys:
    """The configured keys; `owner_of` tells whose a presented key is.

    Args:
        entries: ``owner:sha256hex`` strings (from `hash_api_key`).

    Raises:
        ConfigError: An entry is malformed.
    """

    def __init__(self, entries: Iterable[str]) -> None:
        parsed = []
        for entry in entries:
            owner, _, hexdigest = entry.strip().partition(":")
            if not _OWNER.match(owner) or owner in (".", "..") or not _HEX.match(hexdigest.lower()):
                raise ConfigError(
                    "an API key entry must look like owner:<64 hex digits of its SHA-256>",
                    field="api_keys",
                    hint="make one with: dubkit serve --hash-key OWNER",
                )
            parsed.append(_Entry(owner, bytes.fromhex(hexdigest)))
        self._entries = tuple(parsed)

    @property
    def required(self) -> bool:
        """Whether requests must present a key (some are configured)."""
        return bool(self._entries)

    def owner_of(self, key: str | None) -> str | None:
        """The owner of ``key``, or ``None``; every stored digest is compared (no early exit)."""
        if not self._entries:
            return LOCAL_OWNER
        if not key:
            return None
        presented = _digest(key)
        found = None
        for entry in self._entries:
            if hmac.compare_digest(presented, entry.digest) and found is None:
                found = entry.owner
        return found
