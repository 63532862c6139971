"""On the server selection page, the on/off toggles of one client of the signed-in person.

The page learns which client from `client=<grant id>` in its URL: `portal_servers select`
(and `codemode.portal.select()`) put the caller's own grant there. The id names a client
grant, it is no credential: the page shows and changes that grant's selection only when the
grant is one of the signed-in browser person's own live grants (another person's, a revoked
or an unknown one answer alike, 404). A toggle (POST, CSRF) goes through the same
`ClientSelection.set` as `portal_servers enable/disable`, so the grant's sessions get
list_changed and policies still bound what can be turned on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from engine.person_sessions import CONNECTIONS_PATH, connect_url
from engine.portal import Portal
from engine.selection import ClientSelection, Selections, ServerChoice
from engine.server.sessions import SignedIn
from engine.store.grants import ConnectedClient, GrantStore

TOGGLE_PATH: Final = f"{CONNECTIONS_PATH}/toggle"
CLIENT_PARAM: Final = "client"


@dataclass(frozen=True)
class ClientToggles:
    """What the page shows for one client: its name and each server, on or off."""

    grant_id: str
    client_name: str
    servers: list[ServerChoice]


class Toggles:
    def __init__(self, grants: GrantStore, selections: Selections) -> None:
        self.grants, self.selections = grants, selections

    async def own_client(self, person: SignedIn, grant_id: str) -> ConnectedClient | None:
        """The person's own live grant `grant_id`, else None (whoever's it is)."""
        for client in await self.grants.connected_clients(person.person_id):
            if client.grant_id == grant_id:
                return client
        return None

    async def _selection(self, portal: Portal, person: SignedIn, grant_id: str) -> ClientSelection:
        disabled = await self.selections.disabled(grant_id, portal.id)
        page = connect_url(None, portal.id)
        return ClientSelection(self.selections, portal, person.principal, grant_id, page, disabled)

    async def for_page(
        self, portal: Portal, person: SignedIn, client: ConnectedClient
    ) -> ClientToggles:
        mine = await self._selection(portal, person, client.grant_id)
        return ClientToggles(client.grant_id, client.client_name, await mine.list())

    async def set(
        self, portal: Portal, person: SignedIn, client: ConnectedClient, server: str, on: bool
    ) -> None:
        """Turn `server` on or off for that client (`SelectionError` for a server the
        person may not use)."""
        mine = await self._selection(portal, person, client.grant_id)
        await mine.set(server, on)


def page_of(portal_id: str, grant_id: str) -> str:
    """The page with the toggles of that client."""
    return f"{connect_url(None, portal_id)}&{urlencode({CLIENT_PARAM: grant_id})}"


__all__ = ["CLIENT_PARAM", "TOGGLE_PATH", "ClientToggles", "Toggles", "page_of"]
