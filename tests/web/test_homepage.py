"""The homepage over real HTTP: content, escaping, portal selection, security headers."""

from __future__ import annotations

import base64
import hashlib
import html
import re

import httpx2

from engine.credentials import hash_api_key
from tests.web.conftest import API_KEY, DESCRIPTION, PORTAL_NAME, UPSTREAM_TOKEN, Served


def _get(url: str, **headers: str) -> httpx2.Response:
    return httpx2.get(url, headers=headers, timeout=10)


def test_root_shows_portal_surfaces_and_server_states(served: Served) -> None:
    response = _get(served.base + "/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert f'<h1 id="portal-name">{html.escape(PORTAL_NAME)}</h1>' in page
    assert f'<p class="lead">{html.escape(DESCRIPTION)}</p>' in page
    assert "<timezone>" not in page
    # Two portals and no hostname match: the URLs name the portal by path.
    mcp = f"{served.base}/p/main/mcp"
    for suffix in (
        "",
        "?optimize_context=minimize_tools",
        "?optimize_context=search_and_execute",
        "?codemode=search_and_execute",
    ):
        assert f">{mcp}{suffix}</code>" in page
    assert re.search(r'data-server="time" data-state="Ready".*?2 tools', page)
    error = re.search(r'data-server="down" data-state="Error".*?<p class="cause">(.*?)</p>', page)
    assert error is not None and error.group(1)
    for client in ("Claude Desktop", "Claude Code", "Cursor", "Windsurf", "VS Code", "OpenCode"):
        assert f"<summary>{client}</summary>" in page
    assert "mcp-remote@latest" in page
    assert "your API key" not in page
    assert (
        f'claude mcp add --transport http main <span class="u" data-kind="shell">{mcp}</span>'
        in page
    )
    # A URL with a query is quoted for the shell when the picker selects it.
    assert f'data-shell="&#x27;{mcp}?codemode=search_and_execute&#x27;"' in page


def test_nothing_secret_on_the_page(served: Served) -> None:
    page = _get(served.base + "/").text + _get(served.base + "/p/private/").text
    for secret in (UPSTREAM_TOKEN, API_KEY, hash_api_key(API_KEY)):
        assert secret not in page


def test_host_header_selects_portal_and_code_mode_off_is_shown(served: Served) -> None:
    page = _get(served.base + "/", host="private.example.test").text
    assert '<h1 id="portal-name">Private</h1>' in page
    assert ">http://private.example.test/mcp</code>" in page
    assert page.count("Code mode is disabled on this portal") == 2
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
    assert "No portal &#x27;nope&#x27; here (portals: main, private)." in missing.text
    other = _get(served.base + "/p/main/", host="private.example.test")
    assert other.status_code == 404


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_csp_allows_exactly_the_inline_blocks_of_the_page(served: Served) -> None:
    response = _get(served.base + "/")
    policy = dict(
        [*part.split(" ", 1), ""][:2]
        for part in response.headers["content-security-policy"].split("; ")
    )
    assert policy["default-src"] == "'none'"
    styles = re.findall(r"<style>(.*?)</style>", response.text, re.S)
    scripts = re.findall(r"<script>(.*?)</script>", response.text, re.S)
    assert len(styles) == 1 and len(scripts) == 1
    assert policy["style-src"] == _csp_hash(styles[0])
    assert policy["script-src"] == _csp_hash(scripts[0])
    assert "unsafe" not in response.headers["content-security-policy"]
    # No external asset and no inline handler or style attribute the policy would block.
    assert not re.search(r"\s(src|onclick|onload|style)=", response.text)
    assert "http-equiv" not in response.text


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
    # The private portal's code surfaces are shown as off: the server answers 403 there.
    private = _shown_urls(_get(served.base + "/", host="private.example.test").text)
    headers = {**_MCP_HEADERS, "Host": "private.example.test", "Authorization": f"Bearer {API_KEY}"}
    for surface, url in private.items():
        local = served.base + url.removeprefix("http://private.example.test")
        response = httpx2.post(local, json=_INITIALIZE, headers=headers, timeout=30)
        expected = 403 if surface in ("search_and_execute", "codemode") else 200
        assert response.status_code == expected, (url, response.text)
