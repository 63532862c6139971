"""The secret key (file 0600, generated once, or from the environment) and AES-GCM at rest:
round trip, tampering, wrong keys, rotation, and no secret in a repr or a message."""

from __future__ import annotations

import logging
import os
import stat
import sys
from pathlib import Path

import pytest

from engine.store import (
    Cipher,
    DecryptionError,
    SecretKey,
    SecretKeyError,
    open_store,
)
from engine.store.secrets import (
    KEY_FILE_NAME,
    PURPOSE_COOKIES,
    PURPOSE_ENCRYPTION,
    load_secret_key,
)
from tests.store.conftest import connect, settings_for

pytestmark = pytest.mark.anyio
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")
ENV_KEY = "k" * 40


@posix_only
async def test_key_file_is_created_0600_once_and_reused(tmp_path: Path) -> None:
    async with open_store(settings_for(tmp_path), environ={}) as store:
        first = store.secret_key
        sealed = store.cipher.encrypt("upstream-token", "t:1")
    path = tmp_path / KEY_FILE_NAME
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.source == f"key file {path}"
    async with open_store(settings_for(tmp_path), environ={}) as store:
        assert store.secret_key == first
        assert store.cipher.decrypt_text(sealed, "t:1") == "upstream-token"
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == []


@posix_only
def test_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    key = load_secret_key("CODEMODE_SECRET_KEY", tmp_path, environ={})
    path = tmp_path / KEY_FILE_NAME
    os.chmod(path, 0o644)
    with pytest.raises(SecretKeyError, match=f"chmod 600 {path}") as caught:
        load_secret_key("CODEMODE_SECRET_KEY", tmp_path, environ={})
    assert key.material.decode() not in str(caught.value)


def test_short_key_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / KEY_FILE_NAME
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"short")
    os.close(fd)
    with pytest.raises(SecretKeyError, match=r"holds 5 characters.*delete it"):
        load_secret_key("CODEMODE_SECRET_KEY", tmp_path, environ={})


async def test_key_from_the_environment_and_no_file(tmp_path: Path) -> None:
    env = {"CODEMODE_SECRET_KEY": ENV_KEY}
    async with open_store(settings_for(tmp_path), environ=env) as store:
        assert store.secret_key.material == ENV_KEY.encode()
        assert store.secret_key.source == "environment variable CODEMODE_SECRET_KEY"
    assert not (tmp_path / KEY_FILE_NAME).exists()
    other = settings_for(tmp_path, secret_key_env="PORTAL_KEY")
    async with open_store(other, environ={"PORTAL_KEY": ENV_KEY}) as store:
        assert store.secret_key.material == ENV_KEY.encode()


def test_short_environment_key_and_no_place_for_a_file_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SecretKeyError, match="CODEMODE_SECRET_KEY holds 5 characters"):
        load_secret_key("CODEMODE_SECRET_KEY", tmp_path, environ={"CODEMODE_SECRET_KEY": "abcde"})
    with pytest.raises(SecretKeyError, match="set the environment variable CODEMODE_SECRET_KEY"):
        load_secret_key("CODEMODE_SECRET_KEY", None, environ={})


def test_round_trip_tampering_and_wrong_keys() -> None:
    key = SecretKey.generate()
    cipher = Cipher(key)
    sealed = cipher.encrypt("ya29.upstream-access-token", "upstream_oauth_states.tokens:7")
    assert sealed.startswith(f"v1.{key.key_id}.")
    assert "upstream" not in sealed
    assert cipher.decrypt_text(sealed, "upstream_oauth_states.tokens:7") == (
        "ya29.upstream-access-token"
    )
    assert cipher.encrypt("same", "ad") != cipher.encrypt("same", "ad")  # fresh nonces

    body = sealed.split(".")[2]
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    for bad in (f"v1.{key.key_id}.{flipped}", sealed[:-4], sealed + "AAAA"):
        with pytest.raises(DecryptionError, match=r"failed authentication|too short"):
            cipher.decrypt(bad, "upstream_oauth_states.tokens:7")
    with pytest.raises(DecryptionError, match="stored for another row"):
        cipher.decrypt(sealed, "upstream_oauth_states.tokens:8")
    with pytest.raises(DecryptionError, match="does not have"):
        Cipher(SecretKey.generate()).decrypt(sealed, "upstream_oauth_states.tokens:7")
    # Same key id, other key material (a forged id): still refused.
    forged = Cipher(SecretKey(b"z" * 43, "test"))
    forged._aead = {key.key_id: next(iter(forged._aead.values()))}
    with pytest.raises(DecryptionError, match="failed authentication"):
        forged.decrypt(sealed, "upstream_oauth_states.tokens:7")
    for junk in ("", "v2.x.y", "v1.only-two", f"v1.{key.key_id}.!!!"):
        with pytest.raises(DecryptionError):
            cipher.decrypt(junk, "ad")


def test_rotation_keeps_old_keys_for_decryption() -> None:
    old, new = SecretKey.generate(), SecretKey.generate()
    sealed_old = Cipher(old).encrypt("secret", "ad")
    rotated = Cipher([new, old])
    assert rotated.decrypt_text(sealed_old, "ad") == "secret"
    assert rotated.encrypt("secret", "ad").startswith(f"v1.{new.key_id}.")


def test_keys_per_purpose_differ_and_are_stable() -> None:
    key = SecretKey(b"q" * 40, "test")
    assert key.derive(PURPOSE_COOKIES) != key.derive(PURPOSE_ENCRYPTION)
    assert key.derive(PURPOSE_COOKIES) == SecretKey(b"q" * 40, "other").derive(PURPOSE_COOKIES)
    assert len(key.derive(PURPOSE_ENCRYPTION)) == 32
    assert key.key_id == SecretKey(b"q" * 40, "x").key_id != SecretKey(b"r" * 40, "x").key_id


async def test_nothing_secret_in_reprs_or_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    env = {"CODEMODE_SECRET_KEY": ENV_KEY}
    async with open_store(settings_for(tmp_path), environ=env) as store:
        pair = await connect(store)
        await store.grants.verify_access_token(pair.access_token)
        await store.grants.rotate_refresh_token(pair.refresh_token, pair.client_id)
        await store.grants.rotate_refresh_token(pair.refresh_token, pair.client_id)  # reuse
        texts = [
            repr(store),
            repr(store.secret_key),
            repr(store.cipher),
            repr(store.grants),
            repr(pair),
            store.cookie_key(),
        ]
    logged = caplog.text
    for secret in (ENV_KEY, pair.access_token, pair.refresh_token):
        assert all(secret not in text for text in texts[:-1])
        assert secret not in logged
    assert texts[-1] != ENV_KEY and ENV_KEY not in texts[-1]
