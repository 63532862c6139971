"""Homepage (`GET /`, `GET /p/{portal_id}/`): one server-rendered page per portal with its MCP
endpoint URLs (one per surface, each with a copy button), per-client connection instructions
and the state of each upstream server.

The markup is `engine/server/templates/*.html`, rendered by Jinja2 with autoescaping on for
every template: this module only builds the view-model (`portal_view`), and nothing from config
or the request is ever marked safe. The stylesheet and script are files under `/static`
(`engine/server/static`), the only sources the content-security-policy allows.
"""

from __future__ import annotations

import hashlib
import os
from datetime import datetime
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Scope

from engine.auth import ANONYMOUS, Principal
from engine.config import CodeMode
from engine.server.homepage_snippets import ENDPOINTS, URL, clients, url_forms
from engine.server.sessions import csrf_token, signed_in
from engine.status import ServerState, ServerStatus
from engine.surfaces import surface_query

if TYPE_CHECKING:
    from engine.gateway import Gateway
    from engine.portal import Portal

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
STATIC_PREFIX = "/static"


def content_security_policy(form_action: list[str] | None = None) -> str:
    """The pages' CSP: only our own files, never framed; forms may post only to
    `form_action` (a form's redirect must be allowed too: the consent page adds the client's
    redirect origin, the sign-out form the identity provider's)."""
    actions = " ".join(form_action) if form_action else "'none'"
    return "; ".join(
        [
            "default-src 'none'",
            "style-src 'self'",
            "script-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "base-uri 'none'",
            f"form-action {actions}",
            "frame-ancestors 'none'",
        ]
    )


CONTENT_SECURITY_POLICY = content_security_policy()


def page_headers(form_action: list[str] | None = None) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(form_action),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        # Not no-referrer: with it, Chromium sends `Origin: null` on a form's POST, which the
        # Origin check then refuses (the consent and sign-out forms post to this origin).
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


_HEADERS = page_headers()

TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        # Every template is HTML: escape everything, not only what select_autoescape matches.
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
)


class _StaticFiles(StaticFiles):
    """`engine/server/static`. The pages link each file with its fingerprint (`?v=`), so such a
    URL may be cached for good; any other request for the file revalidates (ETag)."""

    def __init__(self) -> None:
        super().__init__(directory=STATIC_DIR)
        self.versions = {
            path.name: hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            for path in STATIC_DIR.iterdir()
            if path.is_file()
        }

    def url(self, name: str) -> str:
        return f"{STATIC_PREFIX}/{name}?v={self.versions[name]}"

    def file_response(
        self,
        full_path: str | PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        version = self.versions.get(Path(full_path).name)
        fingerprinted = scope.get("query_string", b"") == f"v={version}".encode()
        response.headers["Cache-Control"] = (
            "public, max-age=31536000, immutable" if fingerprinted else "no-cache"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


_ASSETS: dict[str, str] = {}


def assets() -> dict[str, str]:
    """The fingerprinted URLs of the stylesheet and script."""
    if not _ASSETS:
        static = _StaticFiles()
        _ASSETS.update(css=static.url("homepage.css"), js=static.url("homepage.js"))
    return _ASSETS


def page_response(
    request: Request,
    name: str,
    context: dict[str, Any],
    status: int,
    *,
    form_action: list[str] | None = None,
) -> Response:
    """A page rendered from `templates/<name>` with the pages' headers."""
    context = {**context, "assets": assets()}
    return TEMPLATES.TemplateResponse(
        request, name, context, status, headers=page_headers(form_action)
    )


# --------------------------------------------------------------------------- view-model


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


CODE_MODE_CHIPS = {
    CodeMode.OFF: "code mode off",
    CodeMode.OPT_IN: "code mode opt-in",
    CodeMode.DEFAULT_ON: "code mode on by default",
    CodeMode.ENFORCED: "code mode enforced",
}
"""The chip that says a portal's `code_mode` policy."""

_PILL = {ServerState.READY: "ready", ServerState.WAITING: "waiting", ServerState.ERROR: "error"}


def _servers(gateway: Gateway, portal: Portal, visible: frozenset[str]) -> list[dict[str, Any]]:
    """The servers a visitor (anonymous: the page knows no one) may see; the others are only
    counted (`hidden_servers`), never named."""
    names = {s.id: s.name or s.id for s in gateway.config.servers}
    statuses = portal.status(visible)
    counts: dict[str, int] = {}
    for tool in portal.view.tools:
        counts[tool.server_id] = counts.get(tool.server_id, 0) + 1
    servers = []
    for ref in portal.config.servers:
        sid = ref.server_id
        if sid not in visible:
            continue
        status = statuses.get(sid) or ServerStatus(server_id=sid, state=ServerState.WAITING)
        tools = counts.get(sid, 0)
        if status.state is not ServerState.READY:
            meta = "no tools until ready"
        elif status.tool_count != tools:
            meta = f"{_plural(tools, 'tool')} of {status.tool_count}"
        else:
            meta = _plural(tools, "tool")
        servers.append(
            {
                "id": sid,
                "name": names.get(sid, sid),
                "state": status.state.value,
                "pill": _PILL[status.state],
                "meta": meta,
                "cause": status.error_details.cause if status.error_details else None,
            }
        )
    return servers


def portal_view(
    gateway: Gateway, portal: Portal, mcp_url: str, principal: Principal = ANONYMOUS
) -> dict[str, Any]:
    """What `homepage.html` shows for `portal`, whose plain endpoint is `mcp_url`, to
    `principal` (the signed-in person, else anonymous): plain data (strings, numbers, lists),
    which the template escapes."""
    config = portal.config
    # Each surface's URL under the portal's code_mode policy; None: the policy does not offer it.
    queries = {ep.surface: surface_query(ep.surface, config.code_mode) for ep in ENDPOINTS}
    enabled = {surface: query is not None for surface, query in queries.items()}
    urls = {surface: "" if query is None else mcp_url + query for surface, query in queries.items()}
    # `/mcp` alone: the plain surface, or `code` (default_on, enforced).
    default = next(s for s, q in queries.items() if q == "")
    access = portal.access(principal)
    visible = access.visible if access is not None else frozenset(portal.status())
    tools = portal.view_for(access).tools
    ready = sum(1 for s in portal.status(visible).values() if s.state is ServerState.READY)
    chips = [
        _plural(len(visible), "server"),
        f"{ready} ready",
        _plural(len(tools), "tool"),
        CODE_MODE_CHIPS[config.code_mode],
    ]
    needs_key = bool(config.api_keys or config.api_keys_file)
    snippet_urls = url_forms(urls[default])
    return {
        "name": config.name or config.id,
        "description": config.description,
        "chips": chips,
        "needs_key": needs_key,
        "code_mode": config.code_mode.value,
        "endpoints": [
            {
                "surface": ep.surface.value,
                "label": ep.label,
                "blurb": ep.blurb,
                "url": urls[ep.surface],
                "enabled": enabled[ep.surface],
            }
            for ep in ENDPOINTS
        ],
        # The first choice (`/mcp` alone) is the one the snippets start with.
        "picker": [
            {"surface": ep.surface.value, "label": ep.label, "forms": url_forms(urls[ep.surface])}
            for ep in sorted(ENDPOINTS, key=lambda ep: ep.surface is not default)
            if enabled[ep.surface]
        ],
        "clients": [
            {
                "name": c.name,
                "where": c.where,
                "kind": c.kind,
                "url": snippet_urls[c.kind],
                "parts": c.snippet.split(URL),
            }
            for c in clients(config.id, needs_key)
        ],
        "account": None,
        "servers": _servers(gateway, portal, visible),
        "hidden_servers": len(config.servers) - len(visible),
        "others": [
            {"id": p.id, "name": p.config.name or p.id}
            for p in gateway.portals.values()
            if p.id != portal.id
        ],
    }


# --------------------------------------------------------------------------- routes


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def _when(moment: datetime | None) -> str:
    return "never" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


async def account_view(
    gateway: Gateway, request: Request, page_path: str, no_access: str | None
) -> dict[str, Any]:
    """The signed-in part of the homepage (with `[identity]`): the person's email, the sign-out
    form's CSRF token and their connected clients; or the sign-in link."""
    person = signed_in(request)
    if person is None:
        return {"signed_in": False, "login": f"/auth/login?{urlencode({'next': page_path})}"}
    clients = (
        []
        if gateway.store is None
        else await gateway.store.grants.connected_clients(person.person_id)
    )
    return {
        "signed_in": True,
        "email": person.email,
        "csrf": csrf_token(request),
        "no_access": no_access,
        "clients": [
            {
                "name": c.client_name,
                "authorized": _when(c.authorized_at),
                "last_used": _when(c.last_used_at),
            }
            for c in clients
        ],
    }


def homepage_routes(gateway: Gateway, form_sources: list[str] | None = None) -> list[BaseRoute]:
    """Routes for `/` (and `/p/{portal_id}/`), and the static files they link under `/static`.
    `form_sources`: where the sign-out form may lead (with `[identity]`)."""
    static = _StaticFiles()
    assets = {"css": static.url("homepage.css"), "js": static.url("homepage.js")}

    def _render(request: Request, name: str, context: dict[str, Any], status: int) -> Response:
        context = {**context, "assets": assets}
        headers = page_headers(form_sources) if gateway.config.identity else _HEADERS
        return TEMPLATES.TemplateResponse(request, name, context, status, headers=headers)

    def _not_found(request: Request, message: str) -> Response:
        return _render(request, "not_found.html", {"message": message}, 404)

    async def _page(request: Request, portal: Portal, mcp_url: str) -> Response:
        if gateway.config.identity is None:
            return _render(request, "homepage.html", portal_view(gateway, portal, mcp_url), 200)
        person = signed_in(request)
        principal = ANONYMOUS if person is None else person.principal
        view = portal_view(gateway, portal, mcp_url, principal)
        access = portal.access(principal)
        refused = person is not None and access is not None and not access.allowed
        no_access = gateway.config.identity.no_access_message if refused else None
        account = await account_view(gateway, request, request.url.path, no_access)
        # Servers that act with each person's own account: where they connect them.
        mine = person is not None and portal.on_behalf()
        account["connections"] = f"/connections?{urlencode({'portal': portal.id})}" if mine else ""
        view["account"] = account
        return _render(request, "homepage.html", view, 200)

    async def root(request: Request) -> Response:
        portal = gateway.portal_for_host(request.headers.get("host", ""))
        if portal is not None or len(gateway.portals) == 1:
            portal = portal or next(iter(gateway.portals.values()))
            return await _page(request, portal, f"{_base(request)}/mcp")
        if not gateway.portals:
            return _not_found(request, "This server has no portals configured.")
        # Several portals and no hostname match: name the portal in the URL, unambiguously.
        first = next(iter(gateway.portals.values()))
        return await _page(request, first, f"{_base(request)}/p/{first.id}/mcp")

    async def by_path(request: Request) -> Response:
        portal_id = request.path_params["portal_id"]
        portal = gateway.portals.get(portal_id)
        by_host = gateway.portal_for_host(request.headers.get("host", ""))
        # On a portal's own hostname only that portal is served (as its /p/<id>/mcp is).
        if portal is None or (by_host is not None and by_host is not portal):
            known = ", ".join(gateway.portals) or "none"
            return _not_found(request, f"No portal {portal_id!r} here (portals: {known}).")
        return await _page(request, portal, f"{_base(request)}/p/{portal.id}/mcp")

    return [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/p/{portal_id}/", by_path, methods=["GET", "HEAD"]),
        Mount(STATIC_PREFIX, app=static, name="static"),
    ]
