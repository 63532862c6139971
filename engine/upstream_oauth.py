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

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.auth.exceptions import OAuthFlowError, OAuthRegistrationError, OAuthTokenError
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientInformationFull,
    OAuthClientMetadata,
    OAuthToken,
)
from pydantic import AnyUrl, ValidationError

CLIENT_NAME: Final = "codemode"
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
