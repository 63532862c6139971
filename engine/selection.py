"""Per-client server selection: a person turns servers of a portal off (and on again) for one
client, from that client (`portal_servers`, `codemode.portal.*`).

The choice is kept per OAuth client grant (`engine.store.selections`), so a stateless
2026-era client that sends the same token finds it again on every request, and another client
of the same person (another grant) keeps its own. A turned-off server leaves every surface of
that client: `tools/list`, `query`, `codemode.*` and `codemode.search`, prompts, resources
(`Access.disabled`). A caller without a grant (no `[identity]`: an API key, an open portal,
the local operator) sees every server they may use as on and cannot turn one off: their
servers are chosen by the config.

```python
selections = Selections(store.selections)
selections.on_change(lambda portal_id, grant_id: ...)  # announce list_changed to that grant
mine = ClientSelection(selections, portal, principal, grant_id, page_url, disabled)
await mine.set("jira", enabled=False)
```
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from engine.status import ServerState
from sandbox import ToolError
from stubs.portal import DISABLE, ENABLE, LIST, LOGOUT, PORTAL_DECLARATION, SELECT

if TYPE_CHECKING:
    from engine.auth import Principal
    from engine.portal import Portal

log = logging.getLogger("codemode.selection")

PortalOps = Callable[[str, Any], Awaitable[Any]]
"""Answers `codemode.portal.<method>(args)` inside a code run (`ClientSelection.call`)."""

CACHE_TTL_S: Final = 0.5
"""How long a grant's selection is answered from memory; a change made by another replica
is seen within this time (one made here at once)."""
CACHE_SIZE: Final = 10_000

NOT_AVAILABLE: Final = (
    "choosing servers is not available to this caller: the choice is kept per signed-in "
    "client (an OAuth client grant), and this client did not sign in (an API key, an open "
    "portal or the local operator use the servers the config gives them)"
)

_WORDS = re.compile(r"[a-z]+")
# A query about choosing servers names an action and what it acts on ("disable my Jira
# server"); "how the server is built" is not one.
_SELECTION_VERBS = frozenset(
    {"enable", "disable", "select", "selection", "turn", "choose", "switch", "list"}
)
_SELECTION_NOUNS = frozenset({"server", "servers", "portal"})


class SelectionError(ValueError):
    """An operation that cannot be done as asked; the message says why and what to do."""


class PersonConnections(Protocol):
    """A signed-in person's own connections to the portal's `on_behalf` servers
    (`engine.server.connections.PersonLinks`)."""

    async def states(self) -> dict[str, str]:
        """The on_behalf servers the person may use: "connected", "not connected", "expired"."""
        ...

    async def logout(self, server_id: str) -> bool:
        """Disconnect as the page's Log out does; whether a token was held."""
        ...


class SelectionStoreLike(Protocol):
    async def disabled(self, grant_id: str, portal_id: str) -> frozenset[str]: ...

    async def disabled_among(
        self, grant_ids: Collection[str], portal_id: str
    ) -> dict[str, frozenset[str]]: ...

    async def set_enabled(
        self, grant_id: str, portal_id: str, server_id: str, enabled: bool
    ) -> bool: ...


def disabled_tool_message(tool: str, server_id: str) -> str:
    """What a direct call of a tool of a server turned off for this client gets."""
    return (
        f"tool {tool!r} belongs to server {server_id!r}, which is disabled for this client. "
        f'Turn it on with the portal_servers tool ({{"action": "enable", "server": '
        f'"{server_id}"}}), or await codemode.portal.enable("{server_id}") in code.'
    )


def disabled_note(disabled: frozenset[str]) -> str:
    """Added to the error for a `codemode.<name>` that is not there: it may be a tool of a
    server turned off for this client."""
    if not disabled:
        return ""
    return (
        f" Disabled for this client, their tools are not available: {', '.join(sorted(disabled))}"
        " (await codemode.portal.enable(id) turns one on for the next run)."
    )


def portal_found(query: str) -> str:
    """What `codemode.search` and `query` add for a query about choosing servers."""
    words = set(_WORDS.findall(query.lower()))
    if not (words & _SELECTION_VERBS and words & _SELECTION_NOUNS):
        return ""
    return "\n// Choose the servers this client uses:\n" + PORTAL_DECLARATION


class Selections:
    """The servers turned off per (client grant, portal), cached briefly; tells listeners
    `(portal_id, grant_id)` of each change made here."""

    def __init__(self, store: SelectionStoreLike, *, cache_ttl_s: float = CACHE_TTL_S) -> None:
        self._store = store
        self._ttl_s = cache_ttl_s
        self._cache: OrderedDict[tuple[str, str], tuple[float, frozenset[str]]] = OrderedDict()
        self._listeners: list[Callable[[str, str], None]] = []

    def on_change(self, callback: Callable[[str, str], None]) -> None:
        self._listeners.append(callback)

    async def disabled(self, grant_id: str, portal_id: str) -> frozenset[str]:
        key = (grant_id, portal_id)
        hit = self._cache.get(key)
        now = time.monotonic()
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        value = await self._store.disabled(grant_id, portal_id)
        self._cache[key] = (now, value)
        self._cache.move_to_end(key)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return value

    def cached(self, grant_id: str, portal_id: str) -> frozenset[str] | None:
        """The choice last read for this grant, however old; None if none is held."""
        hit = self._cache.get((grant_id, portal_id))
        return hit[1] if hit is not None else None

    async def read_through(
        self, grant_ids: Collection[str], portal_id: str
    ) -> dict[str, frozenset[str]]:
        """The stored choices of `grant_ids`, read now (not from the cache, which they then
        replace): for noticing changes made by other processes."""
        found = await self._store.disabled_among(grant_ids, portal_id)
        now = time.monotonic()
        for grant_id in grant_ids:
            self._cache[(grant_id, portal_id)] = (now, found.get(grant_id, frozenset()))
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)
        return {grant_id: found.get(grant_id, frozenset()) for grant_id in grant_ids}

    async def set_enabled(
        self, grant_id: str, portal_id: str, server_id: str, enabled: bool
    ) -> bool:
        changed = await self._store.set_enabled(grant_id, portal_id, server_id, enabled)
        self._cache.pop((grant_id, portal_id), None)
        if changed:
            for listener in list(self._listeners):
                try:
                    listener(portal_id, grant_id)
                except Exception:
                    log.exception("selection listener failed")
        return changed


@dataclass(frozen=True)
class ServerChoice:
    """One server the caller may use, as `list` shows it."""

    id: str
    name: str
    enabled: bool
    state: str
    detail: str | None = None
    connection: str | None = None
    """on_behalf servers only: the person's own connection (`PersonConnections.states`)."""

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "enabled": self.enabled,
            "state": self.state,
        }
        if self.detail:
            out["detail"] = self.detail
        if self.connection:
            out["connection"] = self.connection
        return out


class ClientSelection:
    """The selection operations of one caller in one portal: `list`, `set`, `select`,
    `logout`. `grant_id` None: a caller without a client grant (see the module's note);
    `connections` None: a caller who is not a signed-in person (no connections of their own)."""

    def __init__(
        self,
        selections: Selections | None,
        portal: Portal,
        principal: Principal | None,
        grant_id: str | None,
        page_url: str,
        disabled: frozenset[str],
        connections: PersonConnections | None = None,
    ) -> None:
        self.connections = connections
        self.selections = selections
        self.portal = portal
        self.principal = principal
        self.grant_id = grant_id
        self.page_url = page_url
        self.disabled = disabled

    def _allowed(self) -> list[str]:
        """The portal's servers the caller may use, in the portal's order."""
        access = self.portal.access(self.principal)
        if access is None:
            return [ref.server_id for ref in self.portal.config.servers]
        return list(access.servers)

    async def list(self) -> list[ServerChoice]:
        allowed = self._allowed()
        linked = await self.connections.states() if self.connections is not None else {}
        status = self.portal.status(frozenset(allowed))
        config = self.portal.services.config
        choices = []
        for sid in allowed:
            server = config.server(sid)
            state = status.get(sid)
            detail = state.error_details.cause if state and state.error_details else None
            choices.append(
                ServerChoice(
                    sid,
                    server.name or sid,
                    sid not in self.disabled,
                    state.state.value if state else ServerState.WAITING.value,
                    detail,
                    linked.get(sid),
                )
            )
        return choices

    async def set(self, server_id: str, enabled: bool) -> ServerChoice:
        """Turn `server_id` on or off for this client. A server the caller may not use is
        answered like one that does not exist: its existence is not revealed."""
        self._check_allowed(server_id)
        if self.grant_id is None or self.selections is None:
            raise SelectionError(NOT_AVAILABLE)
        await self.selections.set_enabled(self.grant_id, self.portal.id, server_id, enabled)
        self.disabled = self.disabled - {server_id} if enabled else self.disabled | {server_id}
        return await self._choice(server_id)

    def _check_allowed(self, server_id: str) -> None:
        allowed = self._allowed()
        if server_id not in allowed:
            raise SelectionError(
                f"no server {server_id!r} that you may use in this portal; yours: "
                + (", ".join(allowed) or "none")
            )

    async def _choice(self, server_id: str) -> ServerChoice:
        return next(c for c in await self.list() if c.id == server_id)

    def select(self) -> dict[str, str]:
        return {"url": self.page_url}

    async def logout(self, server_id: str) -> ServerChoice:
        """Disconnect the person's own account from `server_id` (an on_behalf server they
        connected), as the server selection page's Log out does."""
        self._check_allowed(server_id)
        linked = await self.connections.states() if self.connections is not None else {}
        if server_id not in linked:
            raise SelectionError(
                f"server {server_id!r} has no per-person connection to log out of: it does not "
                "act with your own account here (only servers with on_behalf do)"
            )
        if linked[server_id] == "not connected" or self.connections is None:
            raise SelectionError(
                f"you are not connected to {server_id!r}, so there is nothing to log out of "
                f"(connect it on the server selection page: {self.page_url})"
            )
        await self.connections.logout(server_id)
        return await self._choice(server_id)

    async def call(self, js_name: str, args: Any) -> Any:
        """`codemode.portal.<method>` from a code run (`PortalOps`)."""
        try:
            if js_name == LIST:
                return [c.json() for c in await self.list()]
            if js_name == SELECT:
                return self.select()
            server_id = args.get("id") if isinstance(args, dict) else args
            if not isinstance(server_id, str) or not server_id:
                raise ToolError(
                    f'codemode.{js_name} takes a server id, e.g. {js_name.split(".")[1]}("jira")'
                    " (codemode.portal.list() lists them)",
                    name="TypeError",
                )
            if js_name == LOGOUT:
                return (await self.logout(server_id)).json()
            assert js_name in (ENABLE, DISABLE)  # the sandbox only calls names it was given
            return (await self.set(server_id, js_name == ENABLE)).json()
        except SelectionError as exc:
            raise ToolError(str(exc)) from None


__all__ = [
    "NOT_AVAILABLE",
    "ClientSelection",
    "PersonConnections",
    "PortalOps",
    "SelectionError",
    "Selections",
    "ServerChoice",
    "disabled_note",
    "disabled_tool_message",
    "portal_found",
]
