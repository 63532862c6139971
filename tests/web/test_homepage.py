"""The homepage over real HTTP: content, escaping, portal selection, security headers."""

from __future__ import annotations

import html
import re

import httpx2
import pytest

from engine.config import CodeMode
from engine.credentials import hash_api_key
from engine.server.homepage import portal_view
from tests.web.conftest import API_KEY, DESCRIPTION, PORTAL_NAME, UPSTREAM_TOKEN, Served


def _get(url: str, **headers: str) -> httpx2.Response:
    return httpx2.get(url, headers=headers, timeout=10)


def _text(pattern: str, page: str) -> str:
    """The text of the first match of `pattern`'s group, unescaped as a browser would."""
    match = re.search(pattern, page, re.S)
    assert match is not None, pattern
    return html.unescape(match.group(1))


def _server(page: str, server_id: str) -> tuple[str, str]:
    """The state and inner HTML of the upstream server's list item."""
    match = re.search(
        rf'<li class="server" data-server="{server_id}" data-state="(\w+)">(.*?)</li>', page, re.S
    )
    assert match is not None, server_id
    return match.group(1), match.group(2)


def test_root_shows_portal_surfaces_and_server_states(served: Served) -> None:
    response = _get(served.base + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert _text(r'<h1 id="portal-name">(.*?)</h1>', page) == PORTAL_NAME
    assert _text(r'<p class="lead">(.*?)</p>', page) == DESCRIPTION
    for raw in ("<clocks>", "<timezone>", '"now"'):
        assert raw not in page
    # Two portals and no hostname match: the URLs name the portal by path.
    mcp = f"{served.base}/p/main/mcp"
    for suffix in (
        "",
        "?optimize_context=minimize_tools",
        "?optimize_context=search_and_execute",
        "?codemode=search_and_execute",
    ):
        assert f">{mcp}{suffix}</code>" in page
    state, item = _server(page, "time")
    assert state == "Ready" and '<span class="srv-meta">2 tools</span>' in item
    state, item = _server(page, "down")
    assert state == "Error" and _text(r'<p class="cause">(.*?)</p>', item)
    for client in ("Claude Desktop", "Claude Code", "Cursor", "Windsurf", "VS Code", "OpenCode"):
        assert f"<summary>{client}</summary>" in page
    assert "mcp-remote@latest" in page
    assert "your API key" not in page
    assert (
        f'claude mcp add --transport http main <span class="u" data-kind="shell">{mcp}</span>'
        in page
    )
    # A URL with a query is quoted for the shell when the picker selects it.
    shell = _text(r'value="codemode"[^>]* data-shell="([^"]*)"', page)
    assert shell == f"'{mcp}?codemode=search_and_execute'"


def test_nothing_secret_on_the_page(served: Served) -> None:
    page = _get(served.base + "/").text + _get(served.base + "/p/private/").text
    for secret in (UPSTREAM_TOKEN, API_KEY, hash_api_key(API_KEY)):
        assert secret not in page


def test_host_header_selects_portal_and_code_mode_off_is_shown(served: Served) -> None:
    page = _get(served.base + "/", host="private.example.test").text
    assert '<h1 id="portal-name">Private</h1>' in page
    assert ">http://private.example.test/mcp</code>" in page
    assert page.count("Not offered: code mode is off on this portal") == 2
    assert "requires an API key" in page
    # Every client snippet carries the key header, as a placeholder.
    assert page.count("Bearer &lt;your API key&gt;") == 7
    # Disabled surfaces get no copy button and are not offered in the snippet picker.
    assert 'data-target="url-codemode"' not in page
    assert 'value="codemode"' not in page
    assert 'data-target="url-all"' in page


def test_portal_by_path_and_unknown_portal(served: Served) -> None:
    page = _get(served.base + "/p/private/").text
    assert f">{served.base}/p/private/mcp?optimize_context=minimize_tools</code>" in page
    missing = _get(served.base + "/p/nope/")
    assert missing.status_code == 404
    assert "No portal 'nope' here (portals: main, private)." in html.unescape(missing.text)
    other = _get(served.base + "/p/main/", host="private.example.test")
    assert other.status_code == 404


def _policy(response: httpx2.Response) -> dict[str, str]:
    parts = response.headers["content-security-policy"].split("; ")
    return dict([*part.split(" ", 1), ""][:2] for part in parts)


def test_csp_allows_only_the_page_s_own_files(served: Served) -> None:
    response = _get(served.base + "/")
    assert _policy(response) == {
        "default-src": "'none'",
        "style-src": "'self'",
        "script-src": "'self'",
        "img-src": "'self' data:",
        "connect-src": "'self'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": "'none'",
    }
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    # No inline script or style, no inline handler or style attribute, no external asset.
    assert not re.search(r"<script>|<style|\s(onclick|onload|onerror|style)=", page)
    assert re.findall(r'\ssrc="([^"]*)"', page) == [_asset(page, "js")]
    assert "http-equiv" not in page
    not_found = _get(served.base + "/p/nope/")
    assert _policy(not_found) == _policy(response)


def _asset(page: str, kind: str) -> str:
    pattern = {"css": r'<link rel="stylesheet" href="([^"]+)">', "js": r'<script src="([^"]+)"'}
    return _text(pattern[kind], page)


def test_stylesheet_and_script_are_served_as_files(served: Served) -> None:
    page = _get(served.base + "/").text
    # JavaScript is text/javascript or (older mimetypes tables) application/javascript.
    types = {"css": ("text/css",), "js": ("text/javascript", "application/javascript")}
    for kind, media_types in types.items():
        url = _asset(page, kind)
        path, _, version = url.partition("?v=")
        assert path == f"/static/homepage.{kind}" and version
        linked = _get(served.base + url)
        assert linked.status_code == 200
        assert linked.headers["content-type"].split(";")[0] in media_types
        assert linked.headers["x-content-type-options"] == "nosniff"
        # The page links the file by its fingerprint: that URL may be cached for good.
        assert linked.headers["cache-control"] == "public, max-age=31536000, immutable"
        # Any other URL of the file revalidates, and an unchanged file answers 304.
        for other in (path, f"{path}?v=0"):
            assert _get(served.base + other).headers["cache-control"] == "no-cache"
        again = _get(served.base + path, **{"if-none-match": linked.headers["etag"]})
        assert again.status_code == 304
    assert "navigator.clipboard" in _get(served.base + "/static/homepage.js").text
    assert _get(served.base + "/static/nothing.css").status_code == 404


_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "homepage-test", "version": "1"},
    },
}
_MCP_HEADERS = {"Accept": "application/json, text/event-stream"}


def _shown_urls(page: str) -> dict[str, str]:
    return dict(re.findall(r'<code id="url-([a-z_]+)">([^<]+)</code>', page))


def test_every_url_on_the_page_is_served_as_the_page_says(served: Served) -> None:
    urls = _shown_urls(_get(served.base + "/").text)
    assert len(urls) == 4
    for url in urls.values():
        response = httpx2.post(url, json=_INITIALIZE, headers=_MCP_HEADERS, timeout=30)
        assert response.status_code == 200, (url, response.text)
    # The private portal has code mode off: its page shows no URL for the code surfaces.
    page = _get(served.base + "/", host="private.example.test").text
    private = _shown_urls(page)
    assert set(private) == {"all", "minimize_tools"}
    assert "code mode off" in page and 'code_mode = "off"' in page
    headers = {**_MCP_HEADERS, "Host": "private.example.test", "Authorization": f"Bearer {API_KEY}"}
    for url in private.values():
        local = served.base + url.removeprefix("http://private.example.test")
        response = httpx2.post(local, json=_INITIALIZE, headers=headers, timeout=30)
        assert response.status_code == 200, (url, response.text)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("off", {"all": "", "minimize_tools": "?optimize_context=minimize_tools"}),
        (
            "opt_in",
            {
                "all": "",
                "minimize_tools": "?optimize_context=minimize_tools",
                "search_and_execute": "?optimize_context=search_and_execute",
                "codemode": "?codemode=search_and_execute",
            },
        ),
        (
            "default_on",
            {
                "all": "?codemode=off",
                "minimize_tools": "?optimize_context=minimize_tools",
                "search_and_execute": "?optimize_context=search_and_execute",
                "codemode": "",
            },
        ),
        ("enforced", {"codemode": ""}),
    ],
)
def test_endpoints_show_the_urls_of_the_portals_code_mode(
    served: Served, mode: str, expected: dict[str, str]
) -> None:
    portal = next(iter(served.gateway.portals.values()))
    running = portal.config
    policy = CodeMode(mode)
    portal.config = running.model_copy(
        update={"code_mode": policy, "allow_code_mode": policy.runs_code}
    )
    try:
        page = portal_view(served.gateway, portal, "https://x.test/mcp")
    finally:
        portal.config = running
    shown = {ep["surface"]: ep["url"] for ep in page["endpoints"] if ep["enabled"]}
    assert shown == {surface: "https://x.test/mcp" + query for surface, query in expected.items()}
    # The snippets start with `/mcp` alone, whatever surface it gives.
    assert page["picker"][0]["forms"]["raw"] == "https://x.test/mcp"
