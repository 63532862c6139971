"""Using a stored upstream OAuth credential with nobody present (`HeadlessOAuth`).

The portal's admin credential of a server, and each person's own, are used by background
syncs and by calls long after anyone authorized them. `HeadlessOAuth` is the SDK's
`OAuthClientProvider` for that: it restores the stored expiry (the SDK forgets it) and
refreshes ahead of it, one provider of a credential at a time in this process and one process
at a time through the store (`refresh_turn`), sends each request under no lock once the token
is ready, and where the SDK would send a person to authorize it raises
`ReauthenticationRequired` instead. The flows that do have a person (the admin's `codemode
auth`, a person's Connect) are in `engine.upstream_oauth`.

Nothing here logs or puts a token or a client secret into a message.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import AsyncGenerator, Hashable
from dataclasses import dataclass, fields
from typing import Final

import anyio
import httpx2
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.auth.oauth2 import OAuthContext
from mcp.client.auth.utils import extract_field_from_www_auth, issuers_match
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata, OAuthToken
from mcp.shared.inbound import MCP_PROTOCOL_VERSION_HEADER
from pydantic import AnyUrl

from engine.upstream_oauth import UNUSED_REDIRECT, UpstreamAuthError, discover, refresh_turn

REFRESH_AHEAD_S: Final = 60.0
"""Refresh this long before the access token expires (at most half its lifetime), so no
request goes out with a token about to lapse: a 401 would mean a new authorization."""


class ReauthenticationRequired(UpstreamAuthError):
    """The stored credential no longer works (refresh refused, no refresh token) and only a
    person can get a new one."""


def reauthenticate_message(server_id: str) -> str:
    return (
        f"the authorization for server {server_id!r} expired and could not be refreshed: "
        f"re-authenticate the server (run `codemode auth {server_id}`)"
    )


def client_refused_message(server_id: str) -> str:
    return (
        f"the authorization server refused the portal's client for server {server_id!r} "
        "(invalid_client) when refreshing: check the client secret (oauth_client_secret_env, "
        "oauth_client_secret_file or the admin API's client_secret); if the client was deleted "
        f"there, re-authenticate the server (run `codemode auth {server_id}`)"
    )


@dataclass
class _AheadContext(OAuthContext):
    """The SDK's context, with expiry moved ahead by `ahead_s` (half the lifetime at most)."""

    ahead_s: float = REFRESH_AHEAD_S

    def should_include_resource_param(self, protocol_version: str | None = None) -> bool:
        # Always (RFC 8707): after a restart the SDK holds no metadata and may not know the
        # protocol version yet, and an authorization server that bound the grant to the
        # resource (oidc-provider does) refuses a refresh without it.
        return True

    def update_token_expiry(self, token: OAuthToken) -> None:
        super().update_token_expiry(token)
        if self.token_expiry_time is not None and token.expires_in:
            self.token_expiry_time -= min(self.ahead_s, int(token.expires_in) / 2)


_CREDENTIAL_LOCKS: weakref.WeakValueDictionary[Hashable, anyio.Lock] = weakref.WeakValueDictionary()
"""One lock per stored credential in this process, held by every `HeadlessOAuth` of it."""


def _credential_lock(key: Hashable) -> anyio.Lock:
    lock = _CREDENTIAL_LOCKS.get(key)
    if lock is None:
        lock = _CREDENTIAL_LOCKS[key] = anyio.Lock()
    return lock


class HeadlessOAuth(OAuthClientProvider):
    """`OAuthClientProvider` for a stored credential and no person: it refreshes ahead of
    expiry, and where the SDK would send someone to authorize it raises
    ReauthenticationRequired instead. The SDK does not restore a stored token's expiry; our
    storage returns `expires_in` as the seconds left, and `_initialize` applies it."""

    def __init__(
        self,
        server_url: str,
        server_id: str,
        storage: TokenStorage,
        credential: Hashable | None = None,
    ) -> None:
        """`credential` names the stored credential (default: the server's admin one): the
        providers of one credential in this process take turns to refresh it."""
        self._lock = _credential_lock(credential if credential is not None else (server_id, None))
        self.failure: ReauthenticationRequired | None = None
        """Set when the flow needed a person (the SDK may wrap what it raises)."""
        self._client_refused = False
        """The last refresh failed with `invalid_client`: the client, not the grant."""

        async def no_person(_url: str) -> None:
            message = (
                client_refused_message(server_id)
                if self._client_refused
                else reauthenticate_message(server_id)
            )
            self.failure = ReauthenticationRequired(message)
            raise self.failure

        async def never() -> AuthorizationCodeResult:  # pragma: no cover - no_person raised
            raise ReauthenticationRequired(reauthenticate_message(server_id))

        super().__init__(
            server_url,
            OAuthClientMetadata(redirect_uris=[AnyUrl(UNUSED_REDIRECT)]),
            storage,
            redirect_handler=no_person,
            callback_handler=never,
        )
        given = {f.name: getattr(self.context, f.name) for f in fields(OAuthContext) if f.init}
        self.context = _AheadContext(**given)

    async def _auth_flow(
        self, request: httpx2.Request
    ) -> AsyncGenerator[httpx2.Request, httpx2.Response]:
        """The token is made ready (loaded, compared with the store, refreshed) one provider
        of this credential at a time; the request itself then goes out under no lock. The
        SDK's flow holds its lock until the response's headers arrive, so calls to an upstream
        that answers with JSON went one at a time for every client of the portal (python-sdk
        issue 3209). Without a token, or when the server refuses it, the SDK's flow runs
        (under the credential's lock): it ends in ReauthenticationRequired, as no person is
        here to authorize."""
        refresh_failed = False
        async with self._lock:
            if not self._initialized:
                await self._initialize()
            elif not self.context.is_token_valid():
                await self._adopt_stored_tokens()
            if not self.context.is_token_valid() and self.context.can_refresh_token():
                async with refresh_turn(self.context.storage):
                    await self._adopt_stored_tokens()  # refreshed elsewhere while we waited?
                    if not self.context.is_token_valid() and self.context.can_refresh_token():
                        version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
                        self.context.protocol_version = version
                        refreshed = yield await self._refresh_token()
                        refresh_failed = not await self._handle_refresh_response(refreshed)
            ready = self.context.is_token_valid()
            if ready:
                self.context.protocol_version = request.headers.get(MCP_PROTOCOL_VERSION_HEADER)
                self._add_auth_header(request)
        if ready:
            response = yield request
            if not _refused(response):
                return
            # A refused request was not acted on: the SDK's flow sends it again.
        async with self._lock:
            if ready and not refresh_failed:
                await self._adopt_stored_tokens()  # another provider may have refreshed
            flow = super()._auth_flow(request)
            try:
                outgoing = await flow.__anext__()
                while True:
                    incoming = yield outgoing
                    outgoing = await flow.asend(incoming)
            except StopAsyncIteration:
                return
            finally:
                await flow.aclose()

    async def _adopt_stored_tokens(self) -> None:
        """Take the stored tokens when another provider (or replica) refreshed them since,
        with the client they were issued to: an authorization made again through another
        address of the portal registers a new client, and its refresh token is refused when
        sent with the old client's id (the server's call then failed as "expired")."""
        stored = await self.context.storage.get_tokens()
        held = self.context.current_tokens
        if stored is not None and (held is None or stored.access_token != held.access_token):
            client = await self.context.storage.get_client_info()
            if client is not None:
                self.context.client_info = client
            self.context.current_tokens = stored
            self.context.update_token_expiry(stored)

    async def _handle_refresh_response(self, response: httpx2.Response) -> bool:
        self._client_refused = False
        if response.status_code in (400, 401):
            await response.aread()
            with contextlib.suppress(ValueError, AttributeError):  # not a JSON object
                self._client_refused = response.json().get("error") == "invalid_client"
        return await super()._handle_refresh_response(response)

    async def _initialize(self) -> None:
        await super()._initialize()
        if self.context.current_tokens is None:
            return
        self.context.update_token_expiry(self.context.current_tokens)
        if self.context.oauth_metadata is None:
            # A refresh goes to the token endpoint of the metadata, which the SDK learns only
            # on a 401 (without it, it guesses <server origin>/token): look it up first.
            async with httpx2.AsyncClient(timeout=30) as http:
                prm, metadata = await discover(http, self.context.server_url)
            bound = self.context.client_info.issuer if self.context.client_info else None
            if metadata is not None and bound and not issuers_match(str(metadata.issuer), bound):
                metadata = None  # never send the refresh token to another server than issued it
            self.context.protected_resource_metadata = prm
            if prm is not None:
                self.context.auth_server_url = str(prm.authorization_servers[0])
            self.context.oauth_metadata = metadata


def _refused(response: httpx2.Response) -> bool:
    """Whether the server refused the token: a 401, or a 403 asking for more scope."""
    if response.status_code == 401:
        return True
    insufficient = extract_field_from_www_auth(response, "error") == "insufficient_scope"
    return response.status_code == 403 and insufficient
