"""The portal as an OAuth client of an upstream MCP server, on the SDK's `OAuthClientProvider`.

The SDK does discovery (RFC 9728 protected-resource metadata from the 401, RFC 8414 / OIDC
metadata, the 2025-03-26 fallbacks), dynamic client registration or a Client ID Metadata
Document, PKCE S256, the resource indicator, the token exchange and refresh. What is ours:
the client metadata we register with, a pre-registered client (id and secret, the secret read
from where the config points), following an authorization URL without a person (`headless`),
and wording the flow's failures for a person (`describe_oauth_failure`).

Nothing here logs or puts a token or a client secret into a message.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Protocol, runtime_checkable
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.auth.exceptions import OAuthFlowError, OAuthRegistrationError, OAuthTokenError
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
)
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthMetadata,
    OAuthToken,
    ProtectedResourceMetadata,
)
from pydantic import AnyUrl, ValidationError

from engine.config import ServerConfig
from engine.credentials import CredentialError

CLIENT_NAME: Final = "codemode"
UNUSED_REDIRECT: Final = "http://127.0.0.1/unused"
"""The redirect URI of a client record used where no redirect happens."""
MAX_AUTHORIZE_HOPS: Final = 10
"""Redirects followed by `headless_authorize` before giving up (a loop is not an approval)."""


class UpstreamAuthError(Exception):
    """The OAuth flow with an upstream failed; the message says why and what to do, without
    any token or secret in it. `denied` is true when the authorization server refused (the
    person said no, or the request was rejected) rather than being unreachable or broken."""

    def __init__(self, message: str, *, denied: bool = False) -> None:
        super().__init__(message)
        self.denied = denied


@dataclass(frozen=True)
class OAuthClientSettings:
    """How to present ourselves to an upstream's authorization server. `client_id` None:
    register dynamically (or use `client_metadata_url` where the server supports that)."""

    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    scopes: str | None = None
    client_metadata_url: str | None = None


class MemoryTokenStorage:
    """Tokens and client registration for one process (what `codemode connect` keeps)."""

    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


def oauth_client_settings(
    server: ServerConfig, environ: Mapping[str, str] | None = None
) -> OAuthClientSettings:
    """The client an `oauth` server entry names, its secret read now from the variable or
    file it references (CredentialError when absent; the message never holds the secret)."""
    env = os.environ if environ is None else environ
    who = f"server {server.id!r}"
    secret = None
    if server.oauth_client_secret_env is not None:
        secret = env.get(server.oauth_client_secret_env, "").strip()
        if not secret:
            raise CredentialError(
                f"{who}: environment variable {server.oauth_client_secret_env} "
                "(oauth_client_secret_env) is not set or empty",
                missing=True,
            )
    elif server.oauth_client_secret_file is not None:
        try:
            secret = Path(server.oauth_client_secret_file).read_text(encoding="utf-8").strip()
        except OSError:
            raise CredentialError(
                f"{who}: oauth_client_secret_file {server.oauth_client_secret_file} cannot be read",
                missing=True,
            ) from None
        if not secret:
            raise CredentialError(f"{who}: oauth_client_secret_file is empty")
    elif server.stored_credentials is not None:
        secret = server.stored_credentials.client_secret  # given through the admin API
    return OAuthClientSettings(server.oauth_client_id, secret, server.oauth_scopes)


def client_metadata(redirect_uri: str, settings: OAuthClientSettings) -> OAuthClientMetadata:
    """What we register (or, pre-registered, what we claim): an authorization-code client
    with refresh, a public client unless a secret was given."""
    return OAuthClientMetadata(
        client_name=CLIENT_NAME,
        redirect_uris=[AnyUrl(redirect_uri)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        scope=settings.scopes,
        token_endpoint_auth_method="client_secret_basic" if settings.client_secret else "none",
    )


def preregistered_client(
    redirect_uri: str, settings: OAuthClientSettings
) -> OAuthClientInformationFull | None:
    """The record of a client registered by hand at the authorization server, if configured.
    With a secret it authenticates by HTTP Basic (RFC 6749 §2.3.1, which servers must support)."""
    if settings.client_id is None:
        return None
    return OAuthClientInformationFull(
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        redirect_uris=[AnyUrl(redirect_uri)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        scope=settings.scopes,
        token_endpoint_auth_method="client_secret_basic" if settings.client_secret else "none",
    )


class ConfiguredClientStorage:
    """A stored credential's `TokenStorage` whose client is the configured pre-registered one
    when the config names one. The SDK never stores a client it did not register, so without
    this a static client's credential could not be refreshed; and a secret rotated in the
    config or through the admin API applies to the next refresh."""

    def __init__(self, inner: TokenStorage, client: OAuthClientInformationFull | None) -> None:
        self._inner, self._client = inner, client

    async def get_tokens(self) -> OAuthToken | None:
        return await self._inner.get_tokens()

    async def set_tokens(self, tokens: OAuthToken) -> None:
        await self._inner.set_tokens(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self._client or await self._inner.get_client_info()

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        await self._inner.set_client_info(client_info)

    def refresh_turn(self) -> AbstractAsyncContextManager[None]:
        return refresh_turn(self._inner)


@runtime_checkable
class TakesTurns(Protocol):
    """A `TokenStorage` shared by several processes, which refresh it one at a time."""

    def refresh_turn(self) -> AbstractAsyncContextManager[None]: ...


def refresh_turn(storage: TokenStorage) -> AbstractAsyncContextManager[None]:
    """The storage's refresh turn; none needed for storage no other process shares."""
    if isinstance(storage, TakesTurns):
        return storage.refresh_turn()
    return contextlib.nullcontext()


def configured_client(server: ServerConfig) -> OAuthClientInformationFull | None:
    """The pre-registered client of `server`, its secret read now, for requests that need no
    redirect (refresh, revocation); None when it registers dynamically. Raises
    CredentialError when the secret cannot be read."""
    return preregistered_client(UNUSED_REDIRECT, oauth_client_settings(server))


def make_provider(
    server_url: str,
    redirect_uri: str,
    settings: OAuthClientSettings,
    storage: TokenStorage,
    redirect_handler: Callable[[str], Awaitable[None]],
    callback_handler: Callable[[], Awaitable[AuthorizationCodeResult]],
) -> OAuthClientProvider:
    """The `httpx2.Auth` that authenticates every request to `server_url`."""
    return OAuthClientProvider(
        server_url=server_url,
        client_metadata=client_metadata(redirect_uri, settings),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
        client_metadata_url=settings.client_metadata_url,
    )


def callback_result(url: str) -> AuthorizationCodeResult:
    """The code and state of a redirect back to us, or UpstreamAuthError naming the
    authorization server's error (`access_denied`: the person said no)."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    if "error" in query:
        text = query["error"]
        if "error_description" in query:
            text += f" ({query['error_description']})"
        raise UpstreamAuthError(f"the authorization server refused: {text}", denied=True)
    if "code" not in query:
        raise UpstreamAuthError("the authorization server redirected back without a code")
    return AuthorizationCodeResult(
        code=query["code"], state=query.get("state"), iss=query.get("iss")
    )


async def headless_authorize(
    http: httpx2.AsyncClient, authorization_url: str, redirect_uri: str
) -> AuthorizationCodeResult:
    """Follow `authorization_url` as a browser would, without a person: for authorization
    servers that approve at once. Stops at the redirect to `redirect_uri` (never requested)."""
    url = authorization_url
    for _ in range(MAX_AUTHORIZE_HOPS):
        if url.startswith(redirect_uri):
            return callback_result(url)
        try:
            response = await http.get(url, follow_redirects=False)
        except httpx2.HTTPError as exc:
            raise UpstreamAuthError(
                f"cannot reach the authorization endpoint {origin(url)}: {type(exc).__name__}"
            ) from None
        location = response.headers.get("location")
        if not response.is_redirect or location is None:
            raise UpstreamAuthError(
                f"the authorization endpoint answered HTTP {response.status_code} without "
                "redirecting back: it wants a person (run without --headless)",
                denied=response.status_code in (400, 401, 403),
            )
        url = urljoin(url, location)
    raise UpstreamAuthError(
        f"more than {MAX_AUTHORIZE_HOPS} redirects from the authorization server"
    )


def describe_oauth_failure(exc: BaseException) -> UpstreamAuthError | None:
    """An OAuth-flow failure from the SDK, worded for a person; None when `exc` is not one."""
    if isinstance(exc, UpstreamAuthError):
        return exc
    if isinstance(exc, OAuthRegistrationError):
        return UpstreamAuthError(
            f"client registration failed: {_short(exc)}; if the server has no dynamic "
            "registration, register a client there and pass its id (and secret)"
        )
    if isinstance(exc, OAuthTokenError):
        return UpstreamAuthError(f"token request failed: {_short(exc)}", denied=True)
    if isinstance(exc, OAuthFlowError):
        return UpstreamAuthError(f"authorization failed: {_short(exc)}")
    if isinstance(exc, ValidationError):
        return UpstreamAuthError(
            "the authorization server's metadata is not valid OAuth metadata "
            f"({exc.error_count()} problem(s), first: {exc.errors()[0]['msg']})"
        )
    return None


def _short(exc: BaseException, limit: int = 300) -> str:
    text = str(exc)
    return text if len(text) <= limit else text[:limit] + "…"


def origin(url: str) -> str:
    """`scheme://host:port` of `url`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


async def revoke_tokens(
    http: httpx2.AsyncClient,
    server_url: str,
    tokens: OAuthToken,
    client: OAuthClientInformationFull | None,
) -> bool:
    """RFC 7009: revoke `tokens` at the server's authorization server: the refresh token,
    which ends the grant, else the access token (self-contained JWT access tokens often cannot
    be revoked, and lapse soon). Whether it was revoked; never raises for the server's
    failures: a token we drop is dropped either way."""
    endpoint = await _revocation_endpoint(http, server_url)
    if endpoint is None or client is None:
        return False
    if tokens.refresh_token:
        value, hint = tokens.refresh_token, "refresh_token"
    else:
        value, hint = tokens.access_token, "access_token"
    data = {"token": value, "token_type_hint": hint, "client_id": client.client_id}
    basic = client.client_secret and client.token_endpoint_auth_method != "client_secret_post"
    if client.client_secret and not basic:
        data["client_secret"] = client.client_secret
    try:
        if basic and client.client_secret:
            auth = httpx2.BasicAuth(client.client_id, client.client_secret)
            response = await http.post(endpoint, data=data, auth=auth)
        else:
            response = await http.post(endpoint, data=data)
    except httpx2.HTTPError:
        return False
    return response.status_code == 200


async def discover(
    http: httpx2.AsyncClient, server_url: str
) -> tuple[ProtectedResourceMetadata | None, OAuthMetadata | None]:
    """The server's RFC 9728 metadata and its authorization server's RFC 8414 / OIDC metadata,
    found the way the SDK finds them; (None, None) where there is none or it is unreadable."""
    prm: ProtectedResourceMetadata | None = None
    try:
        for url in build_protected_resource_metadata_discovery_urls(None, server_url):
            response = await http.get(url)
            if response.status_code == 200:
                prm = ProtectedResourceMetadata.model_validate_json(response.content)
                break
        issuer = str(prm.authorization_servers[0]) if prm is not None else origin(server_url)
        for url in build_oauth_authorization_server_metadata_discovery_urls(issuer, server_url):
            response = await http.get(url)
            if response.status_code == 200:
                return prm, OAuthMetadata.model_validate_json(response.content)
    except (httpx2.HTTPError, ValidationError, IndexError):
        return prm, None
    return prm, None


async def _revocation_endpoint(http: httpx2.AsyncClient, server_url: str) -> str | None:
    _prm, metadata = await discover(http, server_url)
    if metadata is None or metadata.revocation_endpoint is None:
        return None
    return str(metadata.revocation_endpoint)
