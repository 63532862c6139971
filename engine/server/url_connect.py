"""Asking a person to connect an `on_behalf` server through their MCP client that declared
URL-mode elicitation.

- 2025-11-25 session (`UrlConnect`): `elicitation/create` with mode `url` and the server
  selection page's URL. If the person accepts, the call waits (up to the portal's
  `approval_timeout_s`) for their new token to be stored, sends
  `notifications/elicitation/complete` and is made again, once.
- 2026-07-28 direct `tools/call` (`RoundConnect`): the round ends with an
  `InputRequiredResult` carrying the same URL request (`ConnectPending`); the client's retry
  makes the call again, and is not asked a second time.

- Inside a `code`/`execute` run the same person may be asked once per run; after that every
  further upstream call of the run is refused (`halted`), as for approvals:
  - 2025-11-25: the call waits for the elicitation within the run's wall-clock
    (`UrlConnect` with a `deadline`). When less than `MIN_CONNECT_WAIT_S` of it is left, or
    the request has no channel for a server-to-client request, the call cannot wait: the
    run stops and the `tools/call` answers the `-32042` URL-elicitation-required error
    (`url_required`, the SDK's `UrlElicitationRequiredError`); the client's retry runs the
    code again.
  - 2026-07-28 (`RunConnect`): the run stops at the first such call and its result is
    replaced by the `InputRequiredResult` carrying the URL; the retry runs the code again
    and is not asked a second time.

Any other outcome (no URL capability, declined, cancelled, timed out) leaves the call
failing with the URL in its error, as without this module; inside a run that error is the
`Error` the `codemode.*` call rejects with, and the run's result carries it.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any, Final

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError, UrlElicitationRequiredError
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

MIN_CONNECT_WAIT_S: Final = 10.0
"""Inside a 2025-era run, the least wall-clock that must be left to wait for a person to
open the page and sign in; with less the run stops and the request answers `-32042`."""
MARGIN_S: Final = 1.0
"""Wall-clock kept back from a run's wait, so the call fails cleanly before the run's limit."""


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


def _message(server_id: str, then: str) -> str:
    return (
        f"Server {server_id!r} acts with your own account. Open the page, press Connect and "
        f"sign in there; {then}."
    )


class _Halting:
    """What a request asked for and could not wait for: the request ends with the URL."""

    pending: UpstreamConnectRequired | None = None

    def halted(self) -> str | None:
        if self.pending is None:
            return None
        return (
            f"this run is stopping to ask the person to connect {self.pending.server_id!r}: "
            "no further calls are made; the code runs again once they have"
        )


class UrlConnect(_Halting):
    """The `Connector` of one 2025-era request of one person; `deadline` (monotonic): the
    end of the code run the request makes, if it makes one."""

    def __init__(
        self,
        ctx: Ctx,
        people: PersonSessions,
        person_id: int,
        timeout_s: float,
        deadline: float | None = None,
    ):
        self.ctx, self.people, self.person_id, self.timeout_s = ctx, people, person_id, timeout_s
        self.deadline = deadline
        self.asked: set[str] = set()
        """Servers asked about in this request: a run is not asked twice about one."""

    async def __call__(self, needed: UpstreamConnectRequired) -> bool:
        session = self.ctx.session
        if self.pending is not None or not can_elicit_url(session.client_capabilities):
            return False
        if needed.server_id in self.asked:
            return False
        self.asked.add(needed.server_id)
        wait_s = self.timeout_s
        if self.deadline is not None:
            wait_s = min(wait_s, self.deadline - time.monotonic() - MARGIN_S)
            if wait_s < MIN_CONNECT_WAIT_S:
                self.pending = needed  # too little of the run is left: -32042
                return False
        if not session.can_send_request:
            self.pending = needed  # nothing to send `elicitation/create` on: -32042
            return False
        return await self._elicit(needed, wait_s)

    async def _elicit(self, needed: UpstreamConnectRequired, wait_s: float) -> bool:
        session = self.ctx.session
        key = (needed.server_id, self.person_id)
        since = await self.people.connected_at(key)
        elicitation_id = secrets.token_urlsafe(24)
        message = _message(needed.server_id, "the call continues once you are connected")
        try:
            with anyio.fail_after(wait_s):
                answer = await session.elicit_url(
                    message, needed.url, elicitation_id, related_request_id=self.ctx.request_id
                )
        except (TimeoutError, MCPError, ValidationError) as exc:
            log.info("url elicitation for %s ended: %s", needed.server_id, type(exc).__name__)
            return False
        if answer.action != "accept":
            return False
        if not await self.people.wait_connected(key, since, wait_s):
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


class RunConnect(_Halting):
    """The `Connector` of one 2026-era code run: remembers the first connection needed (the
    run then stops, see `halted`) and lets that call fail with the URL; the run's result is
    replaced by the `InputRequiredResult`."""

    def __init__(self, ctx: Ctx, params: types.CallToolRequestParams) -> None:
        self.ctx, self.params = ctx, params

    async def __call__(self, needed: UpstreamConnectRequired) -> bool:
        if self.pending is not None or not can_elicit_url(self.ctx.session.client_capabilities):
            return False
        if CONNECT_KEY not in (self.params.input_responses or {}):
            self.pending = needed  # else asked in the round before: fail with the URL
        return False


def _url_params(needed: UpstreamConnectRequired, then: str) -> types.ElicitRequestURLParams:
    return types.ElicitRequestURLParams(
        message=_message(needed.server_id, then),
        url=needed.url,
        elicitation_id=secrets.token_urlsafe(24),
    )


def input_required(pending: ConnectPending) -> types.InputRequiredResult:
    ask = types.ElicitRequest(params=_url_params(pending.needed, "then continue"))
    return types.InputRequiredResult(input_requests={CONNECT_KEY: ask})


def url_required(needed: UpstreamConnectRequired) -> UrlElicitationRequiredError:
    """The `-32042` error of a 2025-era request that could not wait for the person."""
    return UrlElicitationRequiredError(
        [_url_params(needed, "then ask for the same thing again")],
        f"connect {needed.server_id!r} first: open {needed.url}",
    )


def pending_of(connector: Connector | None) -> UpstreamConnectRequired | None:
    """The connection a request asked for and could not wait for, if any."""
    return connector.pending if isinstance(connector, _Halting) else None


def connector_for(
    ctx: Ctx,
    params: types.CallToolRequestParams,
    people: PersonSessions | None,
    principal: Principal | None,
    timeout_s: float,
    *,
    run_s: float | None,
) -> Connector | None:
    """A connector for this request of a person, by protocol era; None for anyone else.
    `run_s`: the wall-clock limit of the code run this request makes (None: a direct call)."""
    if people is None or principal is None or principal.person_id is None:
        return None
    if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
        deadline = None if run_s is None else time.monotonic() + run_s
        return UrlConnect(ctx, people, principal.person_id, timeout_s, deadline)
    return RoundConnect(ctx, params) if run_s is None else RunConnect(ctx, params)
