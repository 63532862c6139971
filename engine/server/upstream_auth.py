"""An admin authorizes the portal at an `oauth` upstream (`codemode auth <server_id>`).

    POST /oauth/upstream/{server_id}/authorize   (admin token, write) -> {authorization_url}
    GET  /oauth/upstream/{server_id}             (admin token)        -> {state, error}
    DELETE /oauth/upstream/{server_id}           (admin token, write) -> drops and revokes
    GET  /oauth/upstream/callback?code&state     (the admin's browser, no token)

The POST starts the SDK's authorization flow in the portal (discovery, registration or the
configured client, PKCE, resource indicator) against the server, with the callback above as
redirect URI, and answers with the URL the SDK built. The callback takes the `state` the SDK
put in that URL: unknown, already used or expired, it is refused and nothing is stored; the
right one hands the code to the waiting flow, which exchanges it and stores the tokens
(encrypted) as the server's admin credential, then the server is synced with it. One flow per
credential at a time.

Replicas: the flow (and its PKCE verifier) runs in the replica that started it; the state and
the hand-over of the code go through the store (`engine.store.upstream_flows`), so the
callback may reach any replica, and a state is used once across all of them. If the starting
replica dies before the callback, that callback fails and the person presses Connect again.
"""

from __future__ import annotations

import contextlib
import html
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.abc
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from engine.config import ServerConfig
from engine.credentials import CredentialError
from engine.server.admin import AdminAuth, ApiError, _endpoint
from engine.server.sessions import signed_in
from engine.store.upstream_flows import FLOW_TTL_S, UpstreamFlowStore
from engine.upstream_oauth import (
    OAuthClientSettings,
    UpstreamAuthError,
    callback_result,
    configured_client,
    describe_oauth_failure,
    make_provider,
    oauth_client_settings,
    preregistered_client,
    revoke_tokens,
)

if TYPE_CHECKING:
    from engine.gateway import Gateway
    from engine.store.upstream_tokens import StoredTokens, UpstreamTokenStore

logger = logging.getLogger(__name__)
CALLBACK_PATH: Final = "/oauth/upstream/callback"
FLOW_TIMEOUT_S: Final = FLOW_TTL_S
"""How long an authorization URL stays usable: its state is refused after that."""
POLL_S: Final = 0.2
"""How often the starting replica looks for its callback in the store (and the callback's
page for the outcome): one primary-key read each, while a person is authorizing."""


@dataclass
class _Flow:
    server_id: str
    person_id: int | None = None
    """Whose credential: None the admin's; a person's flow is finished only in their session."""
    return_to: str = "/"
    url: anyio.Event = field(default_factory=anyio.Event)
    authorization_url: str = ""
    state: str = ""
    code: anyio.Event = field(default_factory=anyio.Event)
    """A nudge: the callback reached this replica, or a newer flow replaced this one."""
    replaced: bool = False
    done: anyio.Event = field(default_factory=anyio.Event)
    error: str | None = None


class _NewTokens:
    """The server's admin row, read as holding no tokens, so the flow authorizes afresh;
    what it stores replaces the old tokens (revoked once the new ones are in)."""

    def __init__(
        self,
        stored: StoredTokens,
        client: OAuthClientInformationFull | None,
        *,
        register_again: bool,
    ) -> None:
        self._stored, self._client, self._register_again = stored, client, register_again
        self.replaced: OAuthToken | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return None

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.replaced = await self._stored.get_tokens()
        await self._stored.set_tokens(tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        # A registration for another address of the portal (another redirect URI) is not
        # reused: the flow registers again.
        if self._client is not None or self._register_again:
            return self._client
        return await self._stored.get_client_info()

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        await self._stored.set_client_info(client_info)


class UpstreamAuthFlows:
    def __init__(
        self, gateway: Gateway, tokens: UpstreamTokenStore, flows: UpstreamFlowStore
    ) -> None:
        self.gateway, self.tokens, self.flows = gateway, tokens, flows
        self._flows: dict[tuple[str, int | None], _Flow] = {}
        """By (server id, person id or None): this replica's flow in progress or last one."""
        self._by_state: dict[str, _Flow] = {}
        """This replica's flows waiting for their callback, by state (to nudge them)."""
        self._tasks: anyio.abc.TaskGroup | None = None

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as self._tasks:
            yield
            self._tasks.cancel_scope.cancel()

    def routes(self, auth: AdminAuth) -> list[BaseRoute]:
        methods = ["GET", "POST", "DELETE", "HEAD"]
        start = _endpoint("POST", self._start, auth.check_write)
        drop = _endpoint("DELETE", self._drop, auth.check_write)
        show = _endpoint("GET", self._show, auth.check)

        async def by_method(request: Request) -> Response:
            handler = {"DELETE": drop}.get(request.method, show)
            return await handler(request)

        return [
            Route(CALLBACK_PATH, self._callback, methods=["GET"]),
            Route("/oauth/upstream/{server_id}/authorize", start, methods=methods),
            Route("/oauth/upstream/{server_id}", by_method, methods=methods),
        ]

    # ----- admin side -----

    def _server(self, request: Request) -> ServerConfig:
        server_id = request.path_params["server_id"]
        for server in self.gateway.config.servers:
            if server.id == server_id and server.auth_type == "oauth":
                return server
        raise ApiError(404, f'no server {server_id!r} with auth_type = "oauth"')

    async def _start(self, request: Request) -> Response:
        server = self._server(request)
        try:
            settings = oauth_client_settings(server)
        except CredentialError as exc:
            raise ApiError(409, str(exc)) from None
        callback = f"{request.url.scheme}://{request.url.netloc}{CALLBACK_PATH}"
        try:
            url = await self.start(server, settings, callback, None)
        except UpstreamAuthError as exc:
            raise ApiError(502, str(exc)) from None
        return _envelope({"authorization_url": url})

    async def start(
        self,
        server: ServerConfig,
        settings: OAuthClientSettings,
        callback: str,
        person_id: int | None,
        return_to: str = "/",
    ) -> str:
        """Start an authorization for the server's admin credential (`person_id` None) or a
        person's; the URL to send the browser to. Raises UpstreamAuthError (no answer)."""
        key = (server.id, person_id)
        current = self._flows.get(key)
        if current is not None and not current.done.is_set():
            # A new URL replaces the unused one: its state stops working (the new row
            # deletes it in the store, for the other replicas), its flow ends.
            current.replaced = True
            current.code.set()
        flow = _Flow(server.id, person_id, return_to)
        self._flows[key] = flow
        assert self._tasks is not None
        self._tasks.start_soon(self._run, server, settings, callback, flow)
        with anyio.move_on_after(server.connect_timeout_s):
            await flow.url.wait()
        if not flow.authorization_url:
            raise UpstreamAuthError(flow.error or "the authorization server did not answer in time")
        return flow.authorization_url

    async def _show(self, request: Request) -> Response:
        server = self._server(request)
        flow = await self.flows.latest(server.id, None)  # from the store: any replica's
        held = await self.tokens.load(server.id)
        if flow is not None and not flow.finished:
            state = "pending"
        elif flow is not None and flow.error is not None:
            state = "failed"
        else:
            state = "connected" if held.tokens is not None else "none"
        error = flow.error if flow is not None else None
        return _envelope({"state": state, "error": error})

    async def _drop(self, request: Request) -> Response:
        server = self._server(request)
        held = await self.tokens.delete(server.id)
        revoked = False
        if held.tokens is not None and server.url is not None:
            client = client_of(server) or held.client_info
            async with httpx2.AsyncClient(timeout=server.connect_timeout_s) as http:
                revoked = await revoke_tokens(http, server.url, held.tokens, client)
        await self.gateway.catalog.reconnect(server.id)
        return _envelope({"dropped": held.tokens is not None, "revoked": revoked})

    # ----- the flow -----

    async def _run(
        self, server: ServerConfig, settings: OAuthClientSettings, callback: str, flow: _Flow
    ) -> None:
        assert server.url is not None
        stored = self.tokens.storage(server.id, flow.person_id)
        client = preregistered_client(callback, settings)
        held = await stored.get_client_info()
        fresh = held is not None and AnyUrl(callback) not in (held.redirect_uris or [])
        storage = _NewTokens(stored, client, register_again=client is None and fresh)

        async def redirect(url: str) -> None:
            state = parse_qs(urlsplit(url).query).get("state", [""])[0]
            if not state:
                raise UpstreamAuthError("the authorization URL carries no state")
            await self.flows.begin(state, server.id, flow.person_id, flow.return_to)
            flow.state, flow.authorization_url = state, url
            self._by_state[flow.state] = flow
            flow.url.set()

        async def wait_for_callback() -> AuthorizationCodeResult:
            with anyio.fail_after(FLOW_TIMEOUT_S):
                return await self._callback_of(flow)

        auth = make_provider(server.url, callback, settings, storage, redirect, wait_for_callback)
        try:
            async with (
                httpx2.AsyncClient(auth=auth, timeout=server.connect_timeout_s) as http,
                Client(streamable_http_client(server.url, http_client=http)) as mcp,
            ):
                await mcp.list_tools()
            await self._connected(server, stored, storage.replaced, flow.person_id)
        except Exception as exc:
            flow.error = _reason(exc)
            who = "" if flow.person_id is None else f" (person {flow.person_id})"
            logger.warning("upstream %s: authorization failed%s: %s", server.id, who, flow.error)
        finally:
            self._by_state.pop(flow.state, None)
            flow.url.set()
            flow.done.set()
            if flow.state:
                with contextlib.suppress(Exception):  # the page then says it timed out
                    await self.flows.finish(flow.state, flow.error)

    async def _callback_of(self, flow: _Flow) -> AuthorizationCodeResult:
        """Wait for the callback of `flow`'s state, which any replica may receive."""
        while True:
            if flow.replaced:
                raise UpstreamAuthError("replaced by a newer authorization")
            try:
                handed = await self.flows.callback(flow.state)
            except LookupError as exc:
                raise UpstreamAuthError(str(exc)) from None
            if handed is not None:
                return _result(handed)
            with anyio.move_on_after(POLL_S):
                await flow.code.wait()

    async def _connected(
        self,
        server: ServerConfig,
        stored: StoredTokens,
        replaced: OAuthToken | None,
        person_id: int | None,
    ) -> None:
        """After a new credential: revoke the tokens it replaced; sync the server with an
        admin credential, or close the person's session that holds the old token."""
        assert server.url is not None
        if replaced is not None:
            client = client_of(server) or await stored.get_client_info()
            async with httpx2.AsyncClient(timeout=server.connect_timeout_s) as http:
                await revoke_tokens(http, server.url, replaced, client)
        people = self.gateway.catalog.people
        await self.tokens.mark_connected(server.id, person_id)
        if person_id is not None and people is not None:
            people.connected((server.id, person_id))
        elif person_id is None:
            await self.gateway.catalog.reconnect(server.id)

    # ----- the browser's return -----

    async def _callback(self, request: Request) -> Response:
        state = request.query_params.get("state", "")
        flow = await self.flows.pending(state) if state else None
        if flow is None:
            return _unknown()
        if flow.person_id is not None:
            person = signed_in(request)
            if person is None or person.person_id != flow.person_id:
                # Finished in another browser session than the one that started it: the code
                # would connect someone else's account to this person. Nothing is stored.
                outside = "finished outside the browser session that started it"
                await self._hand_over(state, {"error": outside})
                return _page(
                    "This authorization was started by another person (or signed-out "
                    "session): nothing was stored. Start again from your own session.",
                    403,
                )
        if not await self._hand_over(state, {"url": str(request.url)}):
            return _unknown()  # another replica (or request) used this state first
        error = await self._outcome(state)
        if error is not None:
            return _page(f"Server {flow.server_id!r} was not connected: {error}", 400)
        if flow.person_id is not None:
            return _page(f"Server {flow.server_id!r} is connected.", 200, back=flow.return_to)
        return _page(f"Server {flow.server_id!r} is connected. You can close this window.", 200)

    async def _hand_over(self, state: str, callback: dict[str, str]) -> bool:
        """Use `state` once (in the store, across replicas) and pass the callback on."""
        claimed = await self.flows.claim(state, json.dumps(callback))
        local = self._by_state.get(state)
        if claimed and local is not None:
            local.code.set()
        return claimed

    async def _outcome(self, state: str) -> str | None:
        """How the flow of `state` ended (its error, None if connected), wherever it ran."""
        with anyio.move_on_after(FLOW_TIMEOUT_S):
            while True:
                outcome = await self.flows.outcome(state)
                if outcome.finished:
                    return outcome.error
                local = self._by_state.get(state)
                with anyio.move_on_after(POLL_S):
                    if local is not None:
                        await local.done.wait()
                    else:
                        await anyio.sleep_forever()
        return "the authorization did not finish in time"


def _unknown() -> Response:
    return _page(
        "This authorization link is unknown, used already or expired: "
        "nothing was stored. Start the connection again.",
        400,
    )


def _result(handed: str) -> AuthorizationCodeResult:
    """The callback another request handed over: its code, or the error it ended with."""
    callback = json.loads(handed)
    if "error" in callback:
        raise UpstreamAuthError(str(callback["error"]))
    return callback_result(str(callback["url"]))


def client_of(server: ServerConfig) -> OAuthClientInformationFull | None:
    """The configured pre-registered client (the SDK stores only clients it registered)."""
    try:
        return configured_client(server)
    except CredentialError:
        return None


def _reason(exc: BaseException) -> str:
    found: list[BaseException] = [exc]
    while found:
        current = found.pop()
        if isinstance(current, BaseExceptionGroup):
            found.extend(current.exceptions)
            continue
        described = describe_oauth_failure(current)
        if described is not None:
            return str(described)
        if isinstance(current, httpx2.TransportError):
            return f"cannot reach {current.request.url.host}: {type(current).__name__}"
        if current.__cause__ is not None:
            found.append(current.__cause__)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _envelope(result: Any) -> Response:
    return JSONResponse({"result": result, "success": True, "errors": [], "messages": []})


def _page(text: str, status: int, back: str | None = None) -> HTMLResponse:
    body = f"<!doctype html><title>codemode</title><p>{html.escape(text)}</p>"
    if back is not None:
        body += f'<p><a id="back" href="{html.escape(back)}">Back to your servers</a></p>'

    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
