"""The `portal_servers` tool and the per-client selection of one MCP server (portal, surface).

`portal_servers` is the engine's own tool for choosing, from the client, which of the portal's
servers this client uses (`engine.selection`): actions `list`, `enable`, `disable` (by server
id), `select` (the URL of the server selection page, `/connections?portal=<id>`) and
`logout` (by server id: the page's Log out of the person's own connection to an `on_behalf`
server, `engine.server.connections.disconnect`). It is listed on the direct surfaces
(the plain `/mcp`, `minimize_tools`, `search_and_execute`) to a client that signed in (has a
client grant); on the code surface, and inside every code run, the same operations are
`codemode.portal.*`.

A change announces `notifications/tools/list_changed` (and prompts, resources) to the live
2025-era sessions of that grant on every surface of the portal, and on the 2026-era listen
streams (which carry no grant: every listener re-lists, and sees only its own choice).

A change made by another process or replica (the `/connections` page behind a balancer, the
tool on another replica) is noticed by comparing, every WATCH_S, the stored choices of the
grants that have live 2025-era sessions here with the last ones seen; a difference is
announced the same way. (2026-era listen streams on this replica are not told of a change
made elsewhere: they carry no grant to watch.)
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from typing import Any, Final

import anyio
import mcp_types as types
from anyio.streams.memory import MemoryObjectSendStream
from mcp.server.context import CallNext, HandlerResult
from mcp.server.subscriptions import (
    PromptsListChanged,
    ResourcesListChanged,
    SubscriptionBus,
    ToolsListChanged,
)
from starlette.requests import Request

from engine.auth import Principal
from engine.person_sessions import connect_url
from engine.portal import Portal
from engine.selection import (
    NOT_AVAILABLE,
    ClientSelection,
    PersonConnections,
    SelectionError,
    Selections,
)
from engine.server.client_toggles import page_of
from engine.server.connections import PersonLinks
from engine.server.live_sessions import Ctx, LiveSessions, session_key
from engine.server.url_connect import origin_of
from engine.store import StoreUnavailable
from engine.surfaces import Surface

GRANT_SCOPE_KEY: Final = "codemode.grant"
"""ASGI scope key where the HTTP app puts the caller's client grant id (a signed-in person's
token); absent for every other caller."""

PORTAL_SERVERS: Final = "portal_servers"
ACTIONS: Final = ("list", "enable", "disable", "select", "logout")
log = logging.getLogger("codemode.selection")

MAX_OWNERS: Final = 10_000
"""Sessions whose grant is remembered per server (least recently seen forgotten first)."""
WATCH_S: Final = 1.0
"""How often the choices of the grants with live sessions here are compared with the store:
one indexed read per portal surface, only while such sessions exist."""

PORTAL_SERVERS_TOOL = types.Tool(
    name=PORTAL_SERVERS,
    description=(
        "Choose which of this portal's servers this client uses. "
        'action "list": the servers you may use, each with whether it is enabled here, '
        "its state and, for servers that act with your own account, your connection "
        '(connected / not connected / expired); "enable" / "disable" with "server": <id>: '
        "turn one on or off for this client (its tools appear or leave; your other clients "
        'are not affected); "logout" with "server": <id>: disconnect your own account from '
        'it; "select": the URL of the server selection page (connect servers there), to open '
        "in a browser."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "action": {"type": "string", "enum": list(ACTIONS)},
            "server": {"type": "string", "description": "A server id (enable, disable, logout)."},
        },
        "required": ["action"],
        "additionalProperties": False,
    },
)

_LISTED_ON: Final = frozenset({Surface.ALL, Surface.MINIMIZE_TOOLS, Surface.SEARCH_AND_EXECUTE})


def grant_of(ctx: Ctx) -> str | None:
    request = ctx.request
    if isinstance(request, Request):
        grant = request.scope.get(GRANT_SCOPE_KEY)
        return grant if isinstance(grant, str) else None
    return None


def page_url(ctx: Ctx, portal_id: str) -> str:
    """The server selection page of this portal, on the origin the client reached us at
    (as the connect URL of a call that needs a connection); for a signed-in client, the page
    with that client's toggles (`engine.server.client_toggles`)."""
    grant = grant_of(ctx)
    path = page_of(portal_id, grant) if grant else connect_url(None, portal_id)
    return f"{origin_of(ctx) or ''}{path}"


class ServerChoices:
    """The selection side of one `PortalServer`: what each request's client turned off,
    the `portal_servers` tool, and list_changed to the grant whose choice changed."""

    def __init__(
        self,
        portal: Portal,
        surface: Surface,
        selections: Selections | None,
        principal_of: Callable[[Ctx], Principal | None],
    ) -> None:
        self.portal = portal
        self.surface = surface
        self.selections = selections
        self._principal_of = principal_of
        self._owners: OrderedDict[str, str] = OrderedDict()  # session key -> grant id
        self._seen: dict[str, frozenset[str]] = {}  # grant id -> its choice, last compared
        self._changed: MemoryObjectSendStream[str] | None = None
        self._bus: SubscriptionBus | None = None
        self._sessions: LiveSessions | None = None
        if selections is not None:
            selections.on_change(self._selection_changed)

    async def middleware(self, ctx: Ctx, call_next: CallNext) -> HandlerResult:
        key, grant = session_key(ctx), grant_of(ctx)
        if key is None or grant is None:
            return await call_next(ctx)
        self._owners[key] = grant
        self._owners.move_to_end(key)
        while len(self._owners) > MAX_OWNERS:
            self._owners.popitem(last=False)
        result = await call_next(ctx)
        if grant not in self._seen and self.selections is not None:
            # What this session was just served is what a later change is compared with.
            served = self.selections.cached(grant, self.portal.id)
            if served is not None:
                self._seen[grant] = served
        return result

    def forget(self, key: str) -> None:
        self._owners.pop(key, None)

    def listed(self, ctx: Ctx) -> bool:
        """Whether `portal_servers` is listed to this request's client."""
        return self.surface in _LISTED_ON and self._usable(ctx)

    def _usable(self, ctx: Ctx) -> bool:
        return self.selections is not None and grant_of(ctx) is not None

    async def disabled(self, ctx: Ctx) -> frozenset[str]:
        """The servers this request's client turned off (none without a grant)."""
        grant = grant_of(ctx)
        if self.selections is None or grant is None:
            return frozenset()
        return await self.selections.disabled(grant, self.portal.id)

    async def client(self, ctx: Ctx) -> ClientSelection:
        disabled = await self.disabled(ctx)
        grant = grant_of(ctx) if self.selections is not None else None
        principal = self._principal_of(ctx)
        url = page_url(ctx, self.portal.id)
        linked = self._connections(principal)
        return ClientSelection(
            self.selections, self.portal, principal, grant, url, disabled, linked
        )

    def _connections(self, principal: Principal | None) -> PersonConnections | None:
        """A signed-in person's own connections (none for anyone else)."""
        people = self.portal.services.catalog.people
        if people is None or principal is None or principal.person_id is None:
            return None
        return PersonLinks(self.portal, people, principal, principal.person_id)

    def ops(self, ctx: Ctx) -> Callable[[str, Any], Awaitable[Any]]:
        """`codemode.portal.*` for a code run of this request."""

        async def call(js_name: str, args: Any) -> Any:
            return await (await self.client(ctx)).call(js_name, args)

        return call

    async def call_tool(self, ctx: Ctx, arguments: dict[str, Any] | None) -> types.CallToolResult:
        """Answer `portal_servers`; every bad input is an `isError` result naming the cause."""
        args = arguments or {}
        action, server = args.get("action"), args.get("server")
        try:
            if action not in ACTIONS or set(args) - {"action", "server"}:
                raise SelectionError(
                    'portal_servers takes {"action": one of ' + ", ".join(ACTIONS) + "} "
                    '(and "server": <id> to enable, disable or logout)'
                )
            mine = await self.client(ctx)
            if action == "list":
                return _result({"servers": [c.json() for c in await mine.list()]})
            if action == "select":
                return _result(mine.select())
            if not isinstance(server, str) or not server:
                raise SelectionError(
                    f'{action} needs "server": <id>; {{"action": "list"}} lists the ids'
                )
            if action == "logout":
                return _result((await mine.logout(server)).json())
            if not self._usable(ctx):
                raise SelectionError(NOT_AVAILABLE)
            return _result((await mine.set(server, action == "enable")).json())
        except SelectionError as exc:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=str(exc))], is_error=True
            )

    # -- list_changed to the grant whose choice changed ----------------------------------------

    def _selection_changed(self, portal_id: str, grant_id: str) -> None:
        if portal_id != self.portal.id or self._changed is None:
            return
        # Full: announcements are behind (and drop this one); closed: the server is stopping.
        with suppress(anyio.WouldBlock, anyio.ClosedResourceError):
            self._changed.send_nowait(grant_id)

    def _owned_by(self, grant: str) -> Callable[[str], bool]:
        def owned(key: str) -> bool:
            return self._owners.get(key) == grant

        return owned

    def announce_on(self, bus: SubscriptionBus, sessions: LiveSessions) -> None:
        """Where changes are announced: the server's 2026-era listen bus and its 2025-era
        sessions."""
        self._bus, self._sessions = bus, sessions

    async def _announce(self, grant: str) -> None:
        """A client's selection changed: every list of its sessions may have (tools, prompts,
        resources all come from the servers it sees)."""
        if self._bus is not None:
            for change in (ToolsListChanged(), PromptsListChanged(), ResourcesListChanged()):
                await self._bus.publish(change)
        if self._sessions is not None:
            owned = self._owned_by(grant)
            await self._sessions.announce(tools=True, prompts=True, resources=True, only=owned)

    async def _watch(self) -> None:
        """Announce the changes other processes made to the choices of grants with sessions
        here (see the module docstring)."""
        while True:
            await anyio.sleep(WATCH_S)
            grants = set(self._owners.values())
            if self.selections is None or not grants:
                self._seen.clear()
                continue
            try:
                stored = await self.selections.read_through(grants, self.portal.id)
            except StoreUnavailable as exc:
                log.debug("selection watch: skipped a check: %s", exc)
                continue
            changed = [g for g, now in stored.items() if self._seen.get(g, now) != now]
            self._seen = stored
            for grant in changed:
                await self._announce(grant)

    @asynccontextmanager
    async def announcing(self) -> AsyncIterator[None]:
        """Announce the changes of this portal's selections while entered."""
        send, receive = anyio.create_memory_object_stream[str](1000)

        async def loop() -> None:
            async for grant in receive:
                self._seen.pop(grant, None)  # announced here: the watch need not again
                await self._announce(grant)

        async with anyio.create_task_group() as tg:
            tg.start_soon(loop)
            tg.start_soon(self._watch)
            self._changed = send
            try:
                yield
            finally:
                self._changed = None
                send.close()
                tg.cancel_scope.cancel()


def _result(value: dict[str, Any]) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(value, ensure_ascii=False))],
        structured_content=value,
    )


__all__ = [
    "GRANT_SCOPE_KEY",
    "PORTAL_SERVERS",
    "PORTAL_SERVERS_TOOL",
    "ServerChoices",
    "grant_of",
    "page_url",
]
