"""Asking a person to connect an `on_behalf` server through their MCP client that declared
URL-mode elicitation.

- 2025-11-25 session (`UrlConnect`): `elicitation/create` with mode `url` and the server
  selection page's URL. If the person accepts, the call waits (up to the portal's
  `approval_timeout_s`) for their new token to be stored, sends
  `notifications/elicitation/complete` and is made again, once.
- 2026-07-28 direct `tools/call` (`RoundConnect`): the round ends with an
  `InputRequiredResult` carrying the same URL request (`ConnectPending`); the client's retry
  makes the call again, and is not asked a second time.

Any other outcome (no URL capability, declined, cancelled, timed out, a 2026-era code run)
leaves the call failing with the URL in its error, as without this module.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError
from starlette.requests import Request

from engine.auth import Principal
from engine.person_sessions import (
    Connector,
    ConnectPending,
    PersonSessions,
    UpstreamConnectRequired,
)

log = logging.getLogger(__name__)
Ctx = ServerRequestContext[Any, Any]


def origin_of(ctx: Ctx) -> str | None:
    """The origin the client reached the portal at (None off HTTP): the pages an agent is
    given (connect, `portal_servers select`) are on it."""
    request = ctx.request
    if isinstance(request, Request):
        return f"{request.url.scheme}://{request.url.netloc}".lower()
    return None


def can_elicit_url(capabilities: types.ClientCapabilities | None) -> bool:
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and elicitation.url is not None


class UrlConnect:
    """The `Connector` of one 2025-era request of one person."""

    def __init__(self, ctx: Ctx, people: PersonSessions, person_id: int, timeout_s: float):
        self.ctx, self.people, self.person_id, self.timeout_s = ctx, people, person_id, timeout_s

    async def __call__(self, needed: UpstreamConnectRequired) -> bool:
        session = self.ctx.session
        if not can_elicit_url(session.client_capabilities):
            return False
        key = (needed.server_id, self.person_id)
        since = await self.people.connected_at(key)
        elicitation_id = secrets.token_urlsafe(24)
        message = (
            f"Server {needed.server_id!r} acts with your own account. Open the page, press "
            "Connect and sign in there; the call continues once you are connected."
        )
        try:
            with anyio.fail_after(self.timeout_s):
                answer = await session.elicit_url(
                    message, needed.url, elicitation_id, related_request_id=self.ctx.request_id
                )
        except (TimeoutError, MCPError, ValidationError) as exc:
            log.info("url elicitation for %s ended: %s", needed.server_id, type(exc).__name__)
            return False
        if answer.action != "accept":
            return False
        if not await self.people.wait_connected(key, since, self.timeout_s):
            return False
        try:
            await session.send_elicit_complete(elicitation_id, self.ctx.request_id)
        except Exception as exc:  # the client may be gone; the call still goes on
            log.info("elicitation/complete not sent: %s", type(exc).__name__)
        return True


CONNECT_KEY = "codemode.connect"
"""The key of the URL request in a 2026-era `InputRequiredResult`."""


class RoundConnect:
    """The `Connector` of one 2026-era direct `tools/call`: asks by ending the round."""

    def __init__(self, ctx: Ctx, params: types.CallToolRequestParams) -> None:
        self.ctx, self.params = ctx, params

    async def __call__(self, needed: UpstreamConnectRequired) -> bool:
        if not can_elicit_url(self.ctx.session.client_capabilities):
            return False
        if CONNECT_KEY in (self.params.input_responses or {}):
            return False  # asked in the round before: the call fails with the URL this time
        raise ConnectPending(needed)


def input_required(pending: ConnectPending) -> types.InputRequiredResult:
    needed = pending.needed
    ask = types.ElicitRequest(
        params=types.ElicitRequestURLParams(
            message=f"Server {needed.server_id!r} acts with your own account. Open the page, "
            "press Connect and sign in there, then continue.",
            url=needed.url,
            elicitation_id=secrets.token_urlsafe(24),
        )
    )
    return types.InputRequiredResult(input_requests={CONNECT_KEY: ask})


def connector_for(
    ctx: Ctx,
    params: types.CallToolRequestParams,
    people: PersonSessions | None,
    principal: Principal | None,
    timeout_s: float,
    *,
    runs_code: bool,
) -> Connector | None:
    """A connector for this request of a person, by protocol era; None for anyone else and
    for a 2026-era code run (the run's result carries the URL)."""
    if people is None or principal is None or principal.person_id is None:
        return None
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        return UrlConnect(ctx, people, principal.person_id, timeout_s)
    return None if runs_code else RoundConnect(ctx, params)
