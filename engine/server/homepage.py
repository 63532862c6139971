"""Homepage (`GET /`, `GET /p/{portal_id}/`): one server-rendered page per portal with its MCP
endpoint URLs (one per surface, each with a copy button), per-client connection instructions
and the state of each upstream server.

Everything from config or the request is escaped; the only script and style are the inline
blocks of `engine.server.homepage_assets`, which the content-security-policy allows by hash.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from engine.auth import ANONYMOUS
from engine.server.homepage_assets import CONTENT_SECURITY_POLICY, CSS, JS
from engine.status import ServerState, ServerStatus
from engine.surfaces import Surface

if TYPE_CHECKING:
    from engine.gateway import Gateway
    from engine.portal import Portal

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_URL = "__CODEMODE_URL__"
"""Placeholder for the endpoint URL in snippets; replaced by a span the picker updates."""


@dataclass(frozen=True)
class _Endpoint:
    surface: Surface
    query: str
    label: str
    blurb: str


_ENDPOINTS = [
    _Endpoint(Surface.ALL, "", "All tools", "Every enabled tool, each as its own MCP tool."),
    _Endpoint(
        Surface.MINIMIZE_TOOLS,
        "?optimize_context=minimize_tools",
        "Minimized tools",
        "Tool names only, plus a query tool that returns full schemas when needed.",
    ),
    _Endpoint(
        Surface.SEARCH_AND_EXECUTE,
        "?optimize_context=search_and_execute",
        "Search and execute",
        "Two tools: query finds tools, execute runs JavaScript that calls them.",
    ),
    _Endpoint(
        Surface.CODEMODE,
        "?codemode=search_and_execute",
        "Code mode",
        "One code tool: the model writes JavaScript against typed functions for every tool.",
    ),
]


# --------------------------------------------------------------------------- client snippets


@dataclass(frozen=True)
class _Client:
    name: str
    where: str
    kind: str  # "json" or "shell": how the URL is quoted inside the snippet
    snippet: str


def _json_snippet(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2)


_KEY_HEADER = "Authorization: Bearer <your API key>"


def _clients(name: str, needs_key: bool) -> list[_Client]:
    """Connection instructions per client, with `_URL` where the endpoint goes.

    Shapes follow each client's documentation: Claude Desktop launches a stdio command (the
    `mcp-remote` bridge); Cursor takes `url`, Windsurf `serverUrl`, VS Code `servers` with
    `type: http`, OpenCode `mcp` with `type: remote`. A portal with API keys adds the
    `Authorization` header (a placeholder, never a key) in each client's own way.
    """
    field, _, value = _KEY_HEADER.partition(": ")
    headers: dict[str, Any] = {"headers": {field: value}} if needs_key else {}
    flag = f" --header {shlex.quote(_KEY_HEADER)}" if needs_key else ""
    bridge = ["-y", "mcp-remote@latest", _URL] + (["--header", _KEY_HEADER] if needs_key else [])
    return [
        _Client(
            "Claude Desktop",
            "Settings → Developer → Edit Config opens claude_desktop_config.json. Add this "
            "and restart Claude Desktop (mcp-remote bridges it to this HTTP endpoint; needs "
            "Node.js).",
            "json",
            _json_snippet({"mcpServers": {name: {"command": "npx", "args": bridge}}}),
        ),
        _Client(
            "Claude Code",
            "Run in a terminal:",
            "shell",
            f"claude mcp add --transport http {shlex.quote(name)} {_URL}{flag}",
        ),
        _Client(
            "Cursor",
            "Add to ~/.cursor/mcp.json (or .cursor/mcp.json in a project):",
            "json",
            _json_snippet({"mcpServers": {name: {"url": _URL, **headers}}}),
        ),
        _Client(
            "Windsurf",
            "Add to ~/.codeium/windsurf/mcp_config.json, then refresh the MCP list:",
            "json",
            _json_snippet({"mcpServers": {name: {"serverUrl": _URL, **headers}}}),
        ),
        _Client(
            "VS Code",
            "Add to .vscode/mcp.json (or run “MCP: Open User Configuration”):",
            "json",
            _json_snippet({"servers": {name: {"type": "http", "url": _URL, **headers}}}),
        ),
        _Client(
            "OpenCode",
            "Add to opencode.json (or ~/.config/opencode/opencode.json):",
            "json",
            _json_snippet(
                {
                    "$schema": "https://opencode.ai/config.json",
                    "mcp": {name: {"type": "remote", "url": _URL, "enabled": True, **headers}},
                }
            ),
        ),
        _Client(
            "MCP Inspector",
            "List the tools from a terminal (or run npx @modelcontextprotocol/inspector and "
            "connect with transport “Streamable HTTP” to the URL):",
            "shell",
            f"npx @modelcontextprotocol/inspector --cli {_URL} --transport http{flag} "
            "--method tools/list",
        ),
    ]


def _url_forms(url: str) -> dict[str, str]:
    """The URL as it appears in each kind of snippet."""
    return {"raw": url, "json": json.dumps(url)[1:-1], "shell": shlex.quote(url)}


# --------------------------------------------------------------------------- rendering


def _endpoint_html(ep: _Endpoint, url: str, enabled: bool) -> str:
    code_id = f"url-{ep.surface.value}"
    button = (
        f'<button type="button" class="copy" data-target="{code_id}">Copy</button>'
        if enabled
        else ""
    )
    note = (
        ""
        if enabled
        else '<p class="note">Code mode is disabled on this portal '
        "(<code>allow_code_mode = false</code>): this endpoint answers 403.</p>"
    )
    return (
        f'<li class="endpoint{"" if enabled else " off"}" data-surface="{ep.surface.value}">'
        f'<div class="ep-name">{escape(ep.label)}</div>'
        f'<p class="ep-desc">{escape(ep.blurb)}</p>'
        f'<div class="copyrow"><code id="{code_id}">{escape(url)}</code>{button}</div>'
        f"{note}</li>"
    )


def _picker_html(urls: dict[Surface, str], enabled: dict[Surface, bool]) -> str:
    radios = []
    for ep in _ENDPOINTS:
        if not enabled[ep.surface]:
            continue
        forms = _url_forms(urls[ep.surface])
        data = " ".join(f'data-{k}="{escape(v)}"' for k, v in forms.items())
        checked = " checked" if ep.surface is Surface.ALL else ""
        radios.append(
            f'<label><input type="radio" name="surface" value="{ep.surface.value}" {data}'
            f"{checked}>{escape(ep.label)}</label>"
        )
    return (
        '<fieldset class="pick"><legend>Endpoint used in the snippets below</legend>'
        + "".join(radios)
        + "</fieldset>"
    )


def _client_html(index: int, client: _Client, url: str) -> str:
    span = (
        f'<span class="u" data-kind="{client.kind}">{escape(_url_forms(url)[client.kind])}</span>'
    )
    body = escape(client.snippet).replace(_URL, span)
    code_id = f"snippet-{index}"
    return (
        f"<details><summary>{escape(client.name)}</summary>"
        f"<p>{escape(client.where)}</p>"
        f'<div class="snippet"><pre><code id="{code_id}">{body}</code></pre>'
        f'<button type="button" class="copy" data-target="{code_id}">Copy</button></div>'
        "</details>"
    )


_STATE_CLASS = {
    ServerState.READY: "ready",
    ServerState.WAITING: "waiting",
    ServerState.ERROR: "error",
}


def _server_html(server_id: str, name: str, status: ServerStatus, tools: int) -> str:
    if status.state is ServerState.READY:
        meta = f"{tools} tool{'' if tools == 1 else 's'}"
        if status.tool_count != tools:
            meta += f" of {status.tool_count}"
    else:
        meta = "no tools until ready"
    cause = ""
    if status.error_details is not None:
        cause = f'<p class="cause">{escape(status.error_details.cause)}</p>'
    return (
        f'<li class="server" data-server="{escape(server_id)}" data-state="{status.state.value}">'
        f'<div class="srv-head"><span class="srv-name">{escape(name)}</span>'
        f'<code class="srv-id">{escape(server_id)}</code>'
        f'<span class="pill {_STATE_CLASS[status.state]}">{status.state.value}</span>'
        f'<span class="srv-meta">{escape(meta)}</span></div>{cause}</li>'
    )


def _servers_html(gateway: Gateway, portal: Portal, visible: frozenset[str]) -> str:
    """The servers a visitor (anonymous: the page knows no one) may see; the others are only
    counted, never named."""
    names = {s.id: s.name or s.id for s in gateway.config.servers}
    statuses = portal.status(visible)
    counts: dict[str, int] = {}
    for tool in portal.view.tools:
        counts[tool.server_id] = counts.get(tool.server_id, 0) + 1
    items = []
    for ref in portal.config.servers:
        sid = ref.server_id
        if sid not in visible:
            continue
        status = statuses.get(sid) or ServerStatus(server_id=sid, state=ServerState.WAITING)
        items.append(_server_html(sid, names.get(sid, sid), status, counts.get(sid, 0)))
    hidden = len(portal.config.servers) - len(items)
    if hidden:
        items.append(
            f'<li class="server">{hidden} server{"" if hidden == 1 else "s"} shown only to '
            "callers the portal's policies allow.</li>"
        )
    return "".join(items) or '<li class="server">This portal has no servers.</li>'


def _others_html(gateway: Gateway, portal: Portal) -> str:
    others = [p for p in gateway.portals.values() if p.id != portal.id]
    if not others:
        return ""
    links = " · ".join(
        f'<a href="/p/{escape(p.id)}/">{escape(p.config.name or p.id)}</a>' for p in others
    )
    return f" · Other portals: {links}"


def render_portal(gateway: Gateway, portal: Portal, mcp_url: str) -> str:
    """The page for `portal`, whose plain endpoint is `mcp_url`."""
    config = portal.config
    name = config.name or config.id
    enabled = {ep.surface: config.allow_code_mode or not ep.surface.runs_code for ep in _ENDPOINTS}
    urls = {ep.surface: mcp_url + ep.query for ep in _ENDPOINTS}
    access = portal.access(ANONYMOUS)  # the page knows no one yet: what anyone may see
    visible = access.visible if access is not None else frozenset(portal.status())
    tools = portal.view_for(access).tools
    statuses = portal.status(visible)
    ready = sum(1 for s in statuses.values() if s.state is ServerState.READY)
    chips = [
        f"{len(visible)} server{'' if len(visible) == 1 else 's'}",
        f"{ready} ready",
        f"{len(tools)} tool{'' if len(tools) == 1 else 's'}",
    ]
    if not config.allow_code_mode:
        chips.append("code mode off")
    needs_key = bool(config.api_keys or config.api_keys_file)
    key_note = (
        '<p class="note">This portal requires an API key: clients send '
        "<code>Authorization: Bearer &lt;key&gt;</code> (the snippets below include it).</p>"
        if needs_key
        else ""
    )
    endpoints = "".join(
        _endpoint_html(ep, urls[ep.surface], enabled[ep.surface]) for ep in _ENDPOINTS
    )
    clients = "".join(
        _client_html(i, c, urls[Surface.ALL]) for i, c in enumerate(_clients(config.id, needs_key))
    )
    description = f'<p class="lead">{escape(config.description)}</p>' if config.description else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{escape(name)} · MCP server portal</title>
<style>{CSS}</style></head>
<body><main>
<header class="top"><p class="eyebrow">MCP server portal</p>
<h1 id="portal-name">{escape(name)}</h1>{description}
<p class="meta">{"".join(f'<span class="chip">{escape(c)}</span>' for c in chips)}</p></header>
<section id="endpoints"><h2>Endpoints</h2>
<p class="hint">Point any MCP client that speaks streamable HTTP at one of these URLs. They
serve the same tools in different shapes.</p>{key_note}<ul>{endpoints}</ul></section>
<section id="servers"><h2>Upstream servers</h2>
<p class="hint">Servers that are not ready contribute no tools until they recover.</p>
<ul>{_servers_html(gateway, portal, visible)}</ul></section>
<section id="clients"><h2>Connect a client</h2>
<p class="hint">Pick the endpoint, then copy the setup for your client.</p>
{_picker_html(urls, enabled)}{clients}</section>
<footer>codemode · admin API: <a href="/api/openapi.json">/api/openapi.json</a>
{_others_html(gateway, portal)}</footer>
</main><script>{JS}</script></body></html>
"""


def _not_found(message: str) -> Response:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Not found</title><style>{CSS}</style></head><body><main><section>"
        f"<h1>Not found</h1><p>{escape(message)}</p></section></main></body></html>"
    )
    return HTMLResponse(page, status_code=404, headers=_HEADERS)


def _base(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def homepage_routes(gateway: Gateway) -> list[BaseRoute]:
    """Routes for `/` (and `/p/{portal_id}/`)."""

    async def root(request: Request) -> Response:
        portal = gateway.portal_for_host(request.headers.get("host", ""))
        if portal is not None or len(gateway.portals) == 1:
            portal = portal or next(iter(gateway.portals.values()))
            return _page(portal, f"{_base(request)}/mcp")
        if not gateway.portals:
            return _not_found("This server has no portals configured.")
        # Several portals and no hostname match: name the portal in the URL, unambiguously.
        first = next(iter(gateway.portals.values()))
        return _page(first, f"{_base(request)}/p/{first.id}/mcp")

    async def by_path(request: Request) -> Response:
        portal_id = request.path_params["portal_id"]
        portal = gateway.portals.get(portal_id)
        by_host = gateway.portal_for_host(request.headers.get("host", ""))
        # On a portal's own hostname only that portal is served (as its /p/<id>/mcp is).
        if portal is None or (by_host is not None and by_host is not portal):
            known = ", ".join(gateway.portals) or "none"
            return _not_found(f"No portal {portal_id!r} here (portals: {known}).")
        return _page(portal, f"{_base(request)}/p/{portal.id}/mcp")

    def _page(portal: Portal, mcp_url: str) -> Response:
        return HTMLResponse(render_portal(gateway, portal, mcp_url), headers=_HEADERS)

    return [
        Route("/", root, methods=["GET", "HEAD"]),
        Route("/p/{portal_id}/", by_path, methods=["GET", "HEAD"]),
    ]
