"""The portal's secret key, and encryption at rest with keys derived from it.

One secret key (from the environment variable `settings.secret_key_env`, else generated once
into `codemode-secret.key`, mode 0600, beside the SQLite database) is the input of HKDF-SHA256;
each use gets its own key by a purpose label, so the cookie-signing key and the encryption key
differ and neither reveals the other. `Cipher` encrypts with AES-256-GCM; a ciphertext reads
`v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, the key id naming the secret key it was
made with, so a later key rotation can keep old keys for decryption. Associated data binds a
ciphertext to where it belongs (table, column, row), so one cannot be moved to another row.

Nothing here logs or puts a key or a plaintext into a `repr` or an error message.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE_NAME = "codemode-secret.key"
MIN_KEY_CHARS = 32
PURPOSE_ENCRYPTION = "encryption-at-rest"
PURPOSE_COOKIES = "cookie-signing"
_VERSION = "v1"
_NONCE_BYTES = 12


class SecretKeyError(Exception):
    """The secret key cannot be had: the variable holds too short a key, the key file is
    unreadable or readable by others, or no key is set where one cannot be generated. The
    message says what to do; it never contains the key."""


class DecryptionError(Exception):
    """A ciphertext cannot be decrypted: malformed, tampered with, bound to other associated
    data, or made with a key this portal does not have (the key id is named)."""


@dataclass(frozen=True)
class SecretKey:
    """The secret key and where it came from (`source`, for messages). `key_id` is public: a
    short digest naming the key in ciphertexts."""

    material: bytes = field(repr=False)
    source: str

    @property
    def key_id(self) -> str:
        return hashlib.sha256(b"codemode key id\0" + self.material).hexdigest()[:8]

    def derive(self, purpose: str, length: int = 32) -> bytes:
        """A key for one purpose (`PURPOSE_COOKIES`, `PURPOSE_ENCRYPTION`, ...): HKDF-SHA256
        with the purpose as its info, so keys for different purposes are independent."""
        hkdf = HKDF(
            algorithm=hashes.SHA256(),
            length=length,
            salt=None,
            info=f"codemode/{_VERSION}/{purpose}".encode(),
        )
        return hkdf.derive(self.material)

    @classmethod
    def generate(cls, source: str = "generated") -> SecretKey:
        return cls(secrets.token_urlsafe(32).encode(), source)


def load_secret_key(
    env_name: str, key_dir: Path | None, environ: Mapping[str, str] | None = None
) -> SecretKey:
    """The secret key: from the variable `env_name` if set, else from `key_dir`/
    codemode-secret.key, which is created (mode 0600) on first use. `key_dir` None (a database
    that is not a local file) requires the variable: replicas must share one key."""
    env = os.environ if environ is None else environ
    if env_name in env:
        value = env[env_name].strip()
        if len(value) < MIN_KEY_CHARS:
            raise SecretKeyError(
                f"environment variable {env_name} holds {len(value)} characters; the secret "
                f"key needs at least {MIN_KEY_CHARS} (generate one: "
                'python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        return SecretKey(value.encode(), f"environment variable {env_name}")
    if key_dir is None:
        raise SecretKeyError(
            f"set the environment variable {env_name} (settings.secret_key_env) to a random "
            f"key of {MIN_KEY_CHARS}+ characters: the database is not a local file, so there "
            "is no place for a generated key that every replica would share"
        )
    return _key_file(key_dir / KEY_FILE_NAME)


def _key_file(path: Path) -> SecretKey:
    source = f"key file {path}"
    try:
        return _read_key_file(path, source)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written to a private temporary file, then linked into place: another process starting
    # at the same time either wins the link (and we read its key) or sees no file at all.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(secrets.token_urlsafe(32) + "\n")
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(FileExistsError):  # another process linked its key first
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key_file(path, source)


def _read_key_file(path: Path, source: str) -> SecretKey:
    fd = os.open(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        if sys.platform != "win32" and os.fstat(handle.fileno()).st_mode & 0o077:
            raise SecretKeyError(f"{source} can be read by other users; run: chmod 600 {path}")
        value = handle.read().strip()
    if len(value) < MIN_KEY_CHARS:
        raise SecretKeyError(
            f"{source} holds {len(value)} characters, the secret key needs at least "
            f"{MIN_KEY_CHARS}; delete it to have a new one generated (secrets encrypted with "
            "the old key become unreadable)"
        )
    return SecretKey(value, source)


class Cipher:
    """AES-256-GCM with keys derived from secret keys. Encrypts with the first key; decrypts
    with whichever key the ciphertext names, so old keys can be listed after a rotation."""

    def __init__(self, keys: SecretKey | Sequence[SecretKey]) -> None:
        keys = [keys] if isinstance(keys, SecretKey) else list(keys)
        if not keys:
            raise ValueError("Cipher needs at least one key")
        self._current = keys[0].key_id
        self._aead = {key.key_id: AESGCM(key.derive(PURPOSE_ENCRYPTION)) for key in keys}

    def __repr__(self) -> str:
        return f"Cipher(key_ids={list(self._aead)})"

    def encrypt(self, plaintext: str | bytes, associated_data: str) -> str:
        """Text safe to store: `v1.<key id>.<base64url>`. Decrypting it needs the same
        `associated_data` (say where the value lives: "oauth_clients.client_secret:<id>")."""
        data = plaintext.encode() if isinstance(plaintext, str) else plaintext
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aead[self._current].encrypt(nonce, data, associated_data.encode())
        body = base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")
        return f"{_VERSION}.{self._current}.{body}"

    def decrypt(self, token: str, associated_data: str) -> bytes:
        """The plaintext of `encrypt`'s output, or DecryptionError."""
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != _VERSION:
            raise DecryptionError("not a codemode ciphertext (expected v1.<key id>.<data>)")
        aead = self._aead.get(parts[1])
        if aead is None:
            raise DecryptionError(
                f"encrypted with key {parts[1]}, which this portal does not have (its keys: "
                f"{', '.join(self._aead)}); was the secret key changed?"
            )
        try:
            raw = base64.urlsafe_b64decode(parts[2] + "=" * (-len(parts[2]) % 4))
        except ValueError:
            raise DecryptionError("ciphertext is not base64url") from None
        if len(raw) < _NONCE_BYTES + 16:
            raise DecryptionError("ciphertext is too short")
        try:
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated_data.encode())
        except InvalidTag:
            raise DecryptionError(
                "ciphertext failed authentication: tampered with, or stored for another row"
            ) from None

    def decrypt_text(self, token: str, associated_data: str) -> str:
        return self.decrypt(token, associated_data).decode()
