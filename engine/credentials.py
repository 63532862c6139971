"""Credentials, held by reference: bearer tokens read from the variable or file a server
names, `${VAR}` values of a stdio server's environment, and API keys kept as SHA-256 digests.
Also how a config that seems to carry a secret literally is recognised (to refuse it).

Messages never contain a secret."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.config import PortalConfig, ServerConfig

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
"""A `"${VAR}"` value: passed from the gateway's environment."""
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
SERVICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
"""An API key's name (no `:`: `key:<hex>` names unnamed keys)."""
_SECRET_WORDS = frozenset(
    {"token", "secret", "password", "passwd", "apikey", "credential", "credentials", "pat"}
)
_REFERENCE_WORDS = frozenset({"file", "path", "env", "var", "dir", "url", "type"})
_SECRET_PAIRS = frozenset({("api", "key"), ("access", "key"), ("private", "key"), ("auth", "key")})
# Values this short are flags ("1", "true"), not credentials.
_MIN_SECRET_LEN = 8


class CredentialError(Exception):
    """A referenced credential cannot be read. The message never contains the secret.

    `missing` is true when the variable or file is absent or unreadable here, which may be
    fine at run time (set by the service manager, mounted later); false when it is there and
    holds something unusable."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


def looks_like_secret_name(key: str) -> bool:
    """Whether a key names a secret itself (`token`, `api_key`), not where one is (`token_file`)."""
    parts = [p for p in re.split(r"[_\-.\s]+|(?<=[a-z])(?=[A-Z])", key) if p]
    parts = [p.lower() for p in parts]
    if any(p in _REFERENCE_WORDS for p in parts):
        return False  # names a place holding the secret (`token_file`), not the secret
    if any(p in _SECRET_WORDS for p in parts):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(parts))


def looks_like_literal_secret(key: str, value: object) -> bool:
    return (
        looks_like_secret_name(key)
        and isinstance(value, str)
        and len(value) >= _MIN_SECRET_LEN
        and ENV_REF.match(value) is None
    )


SECRET_HINT = (
    "looks like a secret written into the config; keep credentials out of it: put the secret "
    "in an environment variable or a file and reference it with bearer_token_env or "
    'bearer_token_file (for a stdio server\'s environment, write "${VAR}" to pass a variable '
    "of the gateway's environment)"
)


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$")


@dataclass(frozen=True)
class StoredCredentials:
    """A server's secrets given through the admin API (`auth_credentials`: a bearer token or
    static headers; an OAuth `client_secret`), decrypted from the store; never in a repr."""

    bearer: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    client_secret: str | None = field(default=None, repr=False)

    @property
    def has_auth_credentials(self) -> bool:
        return self.bearer is not None or bool(self.headers)

    def to_json(self) -> str:
        return json.dumps(
            {
                "bearer": self.bearer,
                "headers": dict(self.headers),
                "client_secret": self.client_secret,
            }
        )

    @classmethod
    def from_json(cls, text: str) -> StoredCredentials:
        data = json.loads(text)
        return cls(data.get("bearer"), dict(data.get("headers") or {}), data.get("client_secret"))


def parse_auth_credentials(value: str) -> tuple[str | None, dict[str, str]]:
    """`auth_credentials` as the admin API takes it: a raw bearer token, or a JSON object
    `{"headers": {"Name": "value", ...}}` of static headers. Raises ValueError saying what is
    wrong (never echoing the value)."""
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise ValueError('is not valid JSON; send a token or {"headers": {...}}') from None
        headers = data.get("headers") if isinstance(data, dict) else None
        if not isinstance(data, dict) or set(data) != {"headers"} or not isinstance(headers, dict):
            raise ValueError('as JSON must be {"headers": {"Header-Name": "value", ...}}')
        if not headers or not all(
            isinstance(k, str) and _HEADER_NAME.match(k) and isinstance(v, str) and _clean(v)
            for k, v in headers.items()
        ):
            raise ValueError("headers must be one or more HTTP header names with text values")
        return None, dict(headers)
    if not text or not _clean(text) or any(ch.isspace() for ch in text):
        raise ValueError("must be a bearer token without spaces or control characters")
    return text, {}


def _clean(value: str) -> bool:
    return not any(ord(ch) < 32 or ord(ch) == 127 for ch in value)


def upstream_headers(
    server: ServerConfig, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The headers that authenticate the gateway to an HTTP `server` (none unless bearer)."""
    if server.auth_type != "bearer":
        return {}
    stored = server.stored_credentials
    if server.credentials == "store" and stored is not None and stored.headers:
        return dict(stored.headers)
    return {"Authorization": f"Bearer {read_secret(server, environ)}"}


def read_secret(server: ServerConfig, environ: Mapping[str, str] | None = None) -> str:
    """The bearer token of `server`, read now from the referenced variable or file, or the
    store's copy for `credentials = "store"`."""
    env = os.environ if environ is None else environ
    who = f"server {server.id!r}"
    if server.auth_type != "bearer":
        raise CredentialError(f"{who}: auth_type is {server.auth_type!r}, it has no bearer token")
    if server.credentials == "store":
        stored = server.stored_credentials
        if stored is None or not stored.has_auth_credentials:
            raise CredentialError(
                f'{who}: credentials = "store", but the store holds none for it; set '
                "auth_credentials through the admin API (PUT .../servers/{id})",
                missing=True,
            )
        if stored.bearer is None:
            # Static headers: the first value stands in for redaction of error messages.
            return next(iter(stored.headers.values()))
        return stored.bearer
    if server.bearer_token_env is not None:
        name = server.bearer_token_env
        if name not in env:
            raise CredentialError(
                f"{who}: environment variable {name} (bearer_token_env) is not set",
                missing=True,
            )
        return _checked_token(env[name], f"{who}: environment variable {name} (bearer_token_env)")
    assert server.bearer_token_file is not None  # guaranteed by ServerConfig validation
    where = f"{who}: bearer_token_file {server.bearer_token_file}"
    try:
        text = Path(server.bearer_token_file).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialError(f"{where} does not exist", missing=True) from None
    except OSError as exc:
        raise CredentialError(f"{where} cannot be read: {exc.strerror}", missing=True) from None
    except UnicodeDecodeError:
        raise CredentialError(f"{where} is not UTF-8 text") from None
    return _checked_token(text, where)


def _checked_token(raw: str, where: str) -> str:
    token = raw.strip()
    if not token:
        raise CredentialError(f"{where} is empty")
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in token):
        raise CredentialError(
            f"{where} holds whitespace or control characters inside the token; "
            "it must hold the token alone"
        )
    return token


def resolve_env(server: ServerConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """A stdio server's `env` with each "${VAR}" value read from the gateway's environment."""
    source = os.environ if environ is None else environ
    out: dict[str, str] = {}
    for key, value in server.env.items():
        ref = ENV_REF.match(value)
        if ref is None:
            out[key] = value
        elif ref.group(1) in source:
            out[key] = source[ref.group(1)]
        else:
            raise CredentialError(
                f"server {server.id!r}: env.{key} refers to environment variable "
                f"{ref.group(1)}, which is not set",
                missing=True,
            )
    return out


def hash_api_key(key: str) -> str:
    """The form an API key takes in `api_keys`: its SHA-256 hex digest."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def unnamed_key_name(digest: str) -> str:
    """The service name of a key listed without one: `key:` and its digest's first 8 hex
    digits (what the request log has always shown for it)."""
    return "key:" + digest[:8]


def api_key_names(portal: PortalConfig) -> dict[str, str]:
    """Each API key's digest and the name of the service it stands for, from `api_keys` plus
    `api_keys_file` (one `<digest> [name]` per line, `#` comments). An unnamed key gets
    `unnamed_key_name`."""
    names: dict[str, str] = {}
    for key in portal.api_keys:
        if isinstance(key, str):
            names[key] = unnamed_key_name(key)
        else:
            names[key.sha256] = key.name
    if portal.api_keys_file is None:
        return names
    where = f"portal {portal.id!r}: api_keys_file {portal.api_keys_file}"
    try:
        lines = Path(portal.api_keys_file).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CredentialError(f"{where} cannot be read: {exc.strerror}", missing=True) from None
    for number, line in enumerate(lines, start=1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        digest = fields[0].lower()
        if not SHA256_HEX.match(digest):
            raise CredentialError(f"{where}, line {number}: not a SHA-256 hex digest")
        if len(fields) > 2 or (len(fields) == 2 and not SERVICE_NAME.match(fields[1])):
            raise CredentialError(
                f"{where}, line {number}: after the digest, only a name of letters, digits, "
                "_ . @ - may follow"
            )
        names[digest] = (
            fields[1] if len(fields) == 2 else names.get(digest, unnamed_key_name(digest))
        )
    return names


def api_key_hashes(portal: PortalConfig) -> frozenset[str]:
    """Digests from `api_keys` plus those in `api_keys_file`."""
    return frozenset(api_key_names(portal))
