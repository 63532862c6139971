"""The server selection page: a signed-in person's own connections to the `on_behalf` OAuth
servers of a portal.

| route                                 | what                                                 |
|---------------------------------------|------------------------------------------------------|
| `GET /connections?portal=&server=`    | the portal's on_behalf servers this person may use,  |
|                                       | each connected / not connected / expired             |
| `POST /connections/connect`           | CSRF-checked: starts the upstream authorization for  |
|                                       | THIS person; a page links on to the upstream         |
| `POST /connections/logout`            | CSRF-checked: deletes the person's token, revokes it |
|                                       | at the upstream (RFC 7009), closes their session     |
| `GET /connections/done`               | back to the client                                   |
| `?client=<grant id>`, `POST           | one of the person's own clients: per server on/off   |
| /connections/toggle`                  | (`engine.server.client_toggles`)                     |

It is the URL an agent is given when a person's call needs a connection
(`UpstreamConnectRequired`). Not signed in: to the sign-in, and back here. The upstream's
callback (`/oauth/upstream/callback`) stores the token only when it returns to the browser
session of the person who started (`engine.server.upstream_auth`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import anyio
import httpx2
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from engine.auth import Principal
from engine.config import ServerConfig
from engine.credentials import CredentialError
from engine.gateway import Gateway
from engine.person_sessions import CONNECTIONS_PATH, PersonSessions, connect_url
from engine.portal import Portal
from engine.selection import SelectionError
from engine.server.client_toggles import CLIENT_PARAM, TOGGLE_PATH, Toggles, page_of
from engine.server.homepage import page_response
from engine.server.oauth import CONSENTED_PATH, unseal_consented
from engine.server.sessions import CSRF_FIELD, SignedIn, csrf_ok, csrf_token, signed_in
from engine.server.upstream_auth import CALLBACK_PATH, UpstreamAuthFlows, client_of
from engine.store.upstream_tokens import UpstreamTokenStore
from engine.upstream_oauth import UpstreamAuthError, oauth_client_settings, revoke_tokens

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Connection:
    id: str
    name: str
    state: str
    """"connected", "not connected" or "expired"."""

    @property
    def label(self) -> str:
        return self.state.capitalize()


async def person_connections(
    tokens: UpstreamTokenStore, portal: Portal, principal: Principal, person_id: int
) -> list[Connection]:
    """The portal's on_behalf servers this person may use, with the state of their own."""
    access = portal.access(principal)
    visible = access.visible if access is not None and access.allowed else frozenset()
    mine = portal.on_behalf() & visible
    found = []
    for server in portal.services.config.servers:
        if server.id not in mine:
            continue
        key = (server.id, person_id)
        held = await tokens.load(*key)
        state = "not connected"
        if held.tokens is not None:
            state = "expired" if held.expired_at is not None else "connected"
        found.append(Connection(server.id, server.name or server.id, state))
    return found


async def disconnect(
    people: PersonSessions | None, tokens: UpstreamTokenStore, server: ServerConfig, person_id: int
) -> bool:
    """Forget the person's token for `server` and revoke it at the upstream (where it offers
    RFC 7009); close their session (`people`: the catalog's pool). Whether a token was held.
    The page's Log out, sign-out and `portal_servers logout` all disconnect through here."""
    held = await tokens.delete(server.id, person_id)
    if people is not None:
        people.forget((server.id, person_id))
    if held.tokens is not None and server.url is not None:
        async with httpx2.AsyncClient(timeout=server.connect_timeout_s) as http:
            # The SDK stores only clients it registered: a pre-registered one comes from the
            # config, else the authorization server would not accept the revocation.
            client = client_of(server) or held.client_info
            await revoke_tokens(http, server.url, held.tokens, client)
    return held.tokens is not None


class ConnectionsPage:
    def __init__(
        self,
        gateway: Gateway,
        tokens: UpstreamTokenStore,
        flows: UpstreamAuthFlows,
        toggles: Toggles | None = None,
    ):
        self.gateway, self.tokens, self.flows, self.toggles = gateway, tokens, flows, toggles

    def routes(self) -> list[BaseRoute]:
        return [
            Route(CONNECTIONS_PATH, self.show, methods=["GET"]),
            Route(f"{CONNECTIONS_PATH}/connect", self.connect, methods=["POST"]),
            Route(f"{CONNECTIONS_PATH}/logout", self.logout, methods=["POST"]),
            Route(f"{CONNECTIONS_PATH}/done", self.done, methods=["GET"]),
            Route(TOGGLE_PATH, self.toggle, methods=["POST"]),
        ]

    def _portal(self, portal_id: str | None) -> Portal | None:
        if portal_id is None:
            return next(iter(self.gateway.portals.values()), None)
        return self.gateway.portals.get(portal_id)

    async def show(self, request: Request) -> Response:
        person = signed_in(request)
        if person is None:
            here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/auth/login?{urlencode({'next': here})}", status_code=303)
        portal = self._portal(request.query_params.get("portal"))
        if portal is None:
            return self._message(request, "Not found", "There is no such portal here.", 404)
        servers = await person_connections(self.tokens, portal, person.principal, person.person_id)
        if self.gateway.store is not None:  # shown: not asked about again as a new server
            prompts = self.gateway.store.connect_prompts
            await prompts.record(person.person_id, portal.id, [s.id for s in servers])
        client = None
        grant_id = request.query_params.get(CLIENT_PARAM)
        if grant_id and self.toggles is not None:
            own = await self.toggles.own_client(person, grant_id)
            if own is None:
                return self._message(request, "Not found", "No such client of yours.", 404)
            client = await self.toggles.for_page(portal, person, own)
        signin = self._signin(request.query_params.get("signin"), person)
        form_action = ["'self'"]
        if signin is not None:  # Done finishes the sign-in: a redirect to the client follows
            form_action.append(_uri_origin(signin[1]))
        context = {
            "client": client,
            "signin": signin[0] if signin is not None else None,
            "finish": CONSENTED_PATH,
            "portal_id": portal.id,
            "email": person.email,
            "servers": servers,
            "wanted": request.query_params.getlist("server"),
            "csrf": csrf_token(request),
            "message": "Logged out." if request.query_params.get("loggedout") else None,
        }
        return page_response(request, "connections.html", context, 200, form_action=form_action)

    def _signin(self, sealed: str | None, person: SignedIn) -> tuple[str, str] | None:
        """The sign-in this page ends (its sealed form and the client's redirect URI), if
        it is this person's and still valid."""
        if not sealed or self.gateway.store is None:
            return None
        pending = unseal_consented(self.gateway.store, sealed, person.person_id)
        return None if pending is None else (sealed, pending.redirect_uri)

    async def _form(self, request: Request) -> tuple[SignedIn, Portal, ServerConfig] | Response:
        """The checked form of a Connect or Log out: the person, the portal, one of its
        on_behalf servers they may use; else the page to answer with."""
        person = signed_in(request)
        form = await request.form()
        if person is None or not csrf_ok(request, form.get(CSRF_FIELD)):
            return self._message(request, "Form expired", "Open the page again.", 403)
        portal = self._portal(str(form.get("portal", "")))
        server_id = str(form.get("server", ""))
        if portal is None:
            return self._message(request, "Not found", "There is no such portal here.", 404)
        usable = await person_connections(self.tokens, portal, person.principal, person.person_id)
        server = next((s for s in self.gateway.config.servers if s.id == server_id), None)
        if server is None or server_id not in {c.id for c in usable}:
            return self._message(request, "Not found", f"No server {server_id!r} for you.", 404)
        return person, portal, server

    async def connect(self, request: Request) -> Response:
        checked = await self._form(request)
        if isinstance(checked, Response):
            return checked
        person, portal, server = checked
        callback = f"{request.url.scheme}://{request.url.netloc}{CALLBACK_PATH}"
        back = connect_url(None, portal.id, server.id)
        signin = (await request.form()).get("signin")
        if isinstance(signin, str) and signin:  # back to the sign-in's last step
            back += "&" + urlencode({"signin": signin})
        try:
            settings = oauth_client_settings(server)
            url = await self.flows.start(server, settings, callback, person.person_id, back)
        except (CredentialError, UpstreamAuthError) as exc:
            return self._message(request, "Cannot connect", f"{server.id}: {exc}", 502)
        # A link, not a redirect: the page's form-action stays 'self', and the person sees
        # where they are sent before they go.
        host = urlsplit(url).netloc
        link = {"href": url, "text": f"Continue to {host} to connect {server.id}"}
        return self._message(request, f"Connect {server.id}", "Sign in there.", 200, link)

    async def logout(self, request: Request) -> Response:
        checked = await self._form(request)
        if isinstance(checked, Response):
            return checked
        person, portal, server = checked
        people = self.gateway.catalog.people
        held = await disconnect(people, self.tokens, server, person.person_id)
        log.info("upstream %s: person %s logged out of it", server.id, person.person_id)
        target = connect_url(None, portal.id, server.id)
        if not held:
            return RedirectResponse(target, status_code=303)
        return RedirectResponse(target + "&loggedout=1", status_code=303)

    async def toggle(self, request: Request) -> Response:
        """Turn a server on or off for one of the signed-in person's own clients."""
        person = signed_in(request)
        form = await request.form()
        if person is None or not csrf_ok(request, form.get(CSRF_FIELD)):
            return self._message(request, "Form expired", "Open the page again.", 403)
        portal = self._portal(str(form.get("portal", "")))
        grant_id = str(form.get(CLIENT_PARAM, ""))
        own = await self.toggles.own_client(person, grant_id) if self.toggles else None
        if portal is None or own is None or self.toggles is None:
            return self._message(request, "Not found", "No such client of yours.", 404)
        server, on = str(form.get("server", "")), form.get("enabled") == "on"
        try:
            await self.toggles.set(portal, person, own, server, on)
        except SelectionError as exc:
            return self._message(request, "Not found", str(exc), 404)
        return RedirectResponse(page_of(portal.id, own.grant_id), status_code=303)

    async def done(self, request: Request) -> Response:
        return self._message(
            request, "Done", "You can close this window and go back to your MCP client.", 200
        )

    def _message(
        self,
        request: Request,
        title: str,
        message: str,
        status: int,
        link: dict[str, str] | None = None,
    ) -> Response:
        context = {"title": title, "message": message, "link": link}
        return page_response(request, "message.html", context, status)


def _uri_origin(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.netloc else f"{parts.scheme}:"


class PersonLinks:
    """One signed-in person's connections in one portal, for `portal_servers` and
    `codemode.portal.*` (`engine.selection.PersonConnections`): the same states as the page,
    and the page's Log out (`disconnect`)."""

    def __init__(
        self, portal: Portal, people: PersonSessions, principal: Principal, person_id: int
    ) -> None:
        self.portal, self.people, self.principal, self.person_id = (
            portal,
            people,
            principal,
            person_id,
        )

    async def states(self) -> dict[str, str]:
        found = await person_connections(
            self.people.tokens, self.portal, self.principal, self.person_id
        )
        return {c.id: c.state for c in found}

    async def logout(self, server_id: str) -> bool:
        server = self.portal.services.config.server(server_id)
        held = await disconnect(self.people, self.people.tokens, server, self.person_id)
        log.info("upstream %s: person %s logged out of it (tool)", server_id, self.person_id)
        return held


async def disconnect_all(gateway: Gateway, tokens: UpstreamTokenStore, person_id: int) -> list[str]:
    """Sign-out: `disconnect` every server the person holds a token for (the upstreams'
    revocations run concurrently); the ids of the servers disconnected, sorted."""
    held = [
        s
        for s in gateway.config.servers
        if s.auth_type == "oauth" and (await tokens.load(s.id, person_id)).tokens is not None
    ]
    async with anyio.create_task_group() as tg:
        for server in held:
            tg.start_soon(disconnect, gateway.catalog.people, tokens, server, person_id)
    return sorted(s.id for s in held)
