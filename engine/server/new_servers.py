"""Asking a connected person, once and in one prompt, about the `on_behalf` servers an admin
added to a portal (by config change, SIGHUP or the admin API: whatever makes them appear).

The trigger is a person's `tools/call` on the portal (direct or a code run, before anything
of it runs), when:
- the person holds a token for at least one `on_behalf` server of the portal (a connected
  person: someone who never connected anything is asked server by server, when they call
  one), and
- the portal has `on_behalf` servers the person may use, holds no token for, and was never
  shown (the server selection page records every server it lists) nor asked about.

Then one URL request for all of them, whose URL is the server selection page naming them
(`/connections?portal=P&server=a&server=b`), and they are recorded as asked before it is
sent (`ConnectPromptStore.record`, under the store's write lock: two calls at once ask
once), whatever the answer: a person is never asked twice about the same server of a
portal. A client without URL elicitation is not asked and nothing is recorded.

- 2025-11-25: `elicitation/create` mode `url`; the call waits for the answer (accept,
  decline or cancel; up to `approval_timeout_s`), not for any connection, then goes on.
- 2026-07-28: the round ends with an `InputRequiredResult` carrying the URL request; the
  retry finds nothing new and goes on.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any, Final
from urllib.parse import urlencode

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from engine.auth import Principal
from engine.person_sessions import CONNECTIONS_PATH, PersonSessions
from engine.portal import Portal
from engine.server.url_connect import can_elicit_url
from engine.store import StoreError

log = logging.getLogger(__name__)
Ctx = ServerRequestContext[Any, Any]

NEW_KEY: Final = "codemode.connect-new"
"""The key of the batched URL request in a 2026-era `InputRequiredResult`."""


def batch_url(origin: str | None, portal_id: str, server_ids: list[str]) -> str:
    """The server selection page of `portal_id`, naming the servers asked about."""
    query = urlencode([("portal", portal_id), *(("server", s) for s in server_ids)])
    return f"{origin or ''}{CONNECTIONS_PATH}?{query}"


async def new_servers(portal: Portal, people: PersonSessions, principal: Principal) -> list[str]:
    """The portal's `on_behalf` servers to ask this connected person about (sorted; empty for
    a person who holds no token for any of the portal's `on_behalf` servers)."""
    person_id = principal.person_id
    if people.prompts is None or person_id is None:
        return []
    access = portal.access(principal)
    visible = access.visible if access is not None and access.allowed else frozenset()
    mine = portal.on_behalf() & visible
    if len(mine) < 2:
        return []  # a new one needs a connected one beside it
    held = {s for s in mine if (await people.tokens.load(s, person_id)).tokens is not None}
    if not held:
        return []
    asked = await people.prompts.asked(person_id, portal.id)
    return sorted(mine - held - asked)


def _message(server_ids: list[str]) -> str:
    names = ", ".join(repr(s) for s in server_ids)
    return (
        f"New servers that act with your own account were added to this portal: {names}. "
        "Open the page to connect them now, or later from the same page."
    )


async def ask_about_new_servers(
    ctx: Ctx,
    portal: Portal,
    people: PersonSessions | None,
    principal: Principal | None,
    origin: str | None,
    timeout_s: float,
) -> types.InputRequiredResult | None:
    """Ask once about the new servers, if there are any; the 2026-era round's answer, or
    None when the call goes on."""
    if people is None or people.prompts is None or principal is None:
        return None
    if principal.person_id is None or not can_elicit_url(ctx.session.client_capabilities):
        return None
    try:
        found = await new_servers(portal, people, principal)
        if not found or not await people.prompts.record(principal.person_id, portal.id, found):
            return None
    except StoreError as exc:  # the prompt is a courtesy: the call itself goes on
        log.warning("new-servers prompt skipped: %s", exc)
        return None
    elicitation_id = secrets.token_urlsafe(24)
    params = types.ElicitRequestURLParams(
        message=_message(found),
        url=batch_url(origin, portal.id, found),
        elicitation_id=elicitation_id,
    )
    if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
        ask = types.ElicitRequest(params=params)
        return types.InputRequiredResult(input_requests={NEW_KEY: ask})
    if ctx.session.can_send_request:
        try:
            with anyio.fail_after(timeout_s):
                await ctx.session.elicit_url(
                    params.message,
                    params.url,
                    elicitation_id,
                    related_request_id=ctx.request_id,
                )
        except (TimeoutError, MCPError, ValidationError) as exc:
            log.info("new-servers elicitation ended: %s", type(exc).__name__)
    return None
