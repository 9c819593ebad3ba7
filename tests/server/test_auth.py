"""API keys: the stored form, and owners found by comparing against every stored hash."""

from __future__ import annotations

import hashlib

import pytest

from dubkit.errors import ConfigError
from dubkit.server import LOCAL_OWNER, ApiKeys, ServerSettings, hash_api_key, new_api_key


def test_keys_are_stored_as_sha256_and_matched_to_their_owner() -> None:
    alice, bob = new_api_key(), new_api_key()
    entries = [hash_api_key("alice", alice), hash_api_key("bob", bob)]
    assert entries[0] == "alice:" + hashlib.sha256(alice.encode()).hexdigest()
    assert alice not in "".join(entries)
    keys = ApiKeys(entries)
    assert keys.required
    assert (keys.owner_of(alice), keys.owner_of(bob)) == ("alice", "bob")
    for wrong in (None, "", alice[:-1], alice + " ", entries[0]):
        assert keys.owner_of(wrong) is None


def test_without_keys_everyone_is_the_local_user() -> None:
    keys = ApiKeys([])
    assert not keys.required and keys.owner_of(None) == keys.owner_of("anything") == LOCAL_OWNER


@pytest.mark.parametrize(
    "entry", ["alice", "alice:1234", ":" + "0" * 64, "../x:" + "0" * 64, "a b:" + "0" * 64]
)
def test_malformed_entries_are_refused(entry: str) -> None:
    with pytest.raises(ConfigError):
        ApiKeys([entry])


def test_short_keys_and_bad_owners_cannot_be_hashed() -> None:
    with pytest.raises(ConfigError):
        hash_api_key("alice", "short")
    with pytest.raises(ConfigError):
        hash_api_key("a/b", new_api_key())


def test_settings_read_key_lists_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    entry = hash_api_key("alice", new_api_key())
    monkeypatch.setenv("DUBKIT_API_KEYS", f" {entry} ,")
    monkeypatch.setenv("DUBKIT_CORS_ORIGINS", '["https://a.example", "https://b.example"]')
    settings = ServerSettings()
    assert settings.api_keys == [entry]
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.trusted_hosts == ["*"] and settings.max_upload_bytes == 200 * 1024 * 1024
