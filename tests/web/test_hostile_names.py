"""Names and descriptions from config are text, never markup or template code: a portal and a
server named with HTML, an attribute break-out, a Jinja expression and an entity render
escaped in the HTML, and in a browser no dialog fires and the names read back literally."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx2
import pytest
from anyio.from_thread import BlockingPortal

from engine import Config
from tests.upstreams.harness import free_port
from tests.web.browser import run_browser_script
from tests.web.conftest import Served, serve_config

HOSTILE = (
    "<script>alert(1)</script> \"><img src=x onerror=alert(1)> ' onmouseover='alert(1) "
    "{{ 7*7 }} {% if true %}yes{% endif %} &amp;"
)
PORTAL = f"Portal {HOSTILE}"
DESCRIPTION = f"About {HOSTILE}"
SERVER = f"Server {HOSTILE}"
OTHER = f"Other {HOSTILE}"
SCRIPT = Path(__file__).with_name("hostile_browser.mjs")


def _config() -> Config:
    return Config.from_dict(
        {
            "servers": [
                # Nothing listens there: the server shows as Error, its name still shown.
                {"id": "odd", "name": SERVER, "url": f"http://127.0.0.1:{free_port()}/mcp"}
            ],
            "portals": [
                {
                    "id": "odd",
                    "name": PORTAL,
                    "description": DESCRIPTION,
                    "servers": [{"server_id": "odd"}],
                },
                {"id": "other", "name": OTHER, "servers": [{"server_id": "odd"}]},
            ],
            "settings": {"request_log_path": ":memory:"},
        }
    )


@pytest.fixture(scope="module")
def hostile(blocking_portal: BlockingPortal) -> Iterator[Served]:
    with serve_config(blocking_portal, _config()) as served:
        yield served


def _page(hostile: Served) -> str:
    response = httpx2.get(hostile.base + "/", timeout=10)
    assert response.status_code == 200
    return response.text


def _texts(pattern: str, page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(pattern, page, re.S)]


def test_hostile_names_are_escaped_in_the_html(hostile: Served) -> None:
    page = _page(hostile)
    for raw in ("<script>alert", "<img", "onerror=alert(1)>", "' onmouseover='"):
        assert raw not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    # Not template code: the expression and the statement are shown as written.
    assert "{{ 7*7 }}" in page and "{% if true %}yes{% endif %}" in page
    # Escaped once: the entity's own ampersand is escaped, so the page shows "&amp;".
    assert "&amp;amp;" in page
    assert _texts(r'<h1 id="portal-name">(.*?)</h1>', page) == [PORTAL]
    assert _texts(r'<p class="lead">(.*?)</p>', page) == [DESCRIPTION]
    assert _texts(r"<title>(.*?)</title>", page) == [f"{PORTAL} · MCP server portal"]
    assert _texts(r'<span class="srv-name">(.*?)</span>', page) == [SERVER]
    assert _texts(r'<a href="/p/other/">(.*?)</a>', page) == [OTHER]
    # The only script is the page's own file.
    scripts = re.findall(r"<script\b[^>]*>", page)
    assert len(scripts) == 1 and re.fullmatch(
        r'<script src="/static/homepage\.js\?v=\w+" defer>', scripts[0]
    )


def test_a_hostile_portal_id_in_the_path_is_escaped_on_the_not_found_page(
    hostile: Served,
) -> None:
    wanted = '<script>alert(1)"><img src=x onerror=alert(1)>{{ 7*7 }}&amp;'
    response = httpx2.get(f"{hostile.base}/p/{quote(wanted, safe='')}/", timeout=10)
    assert response.status_code == 404
    assert "<script>alert" not in response.text and "<img" not in response.text
    assert _texts(r"<p>(.*?)</p>", response.text) == [
        f"No portal {wanted!r} here (portals: odd, other)."
    ]


def test_hostile_names_are_inert_in_a_browser(hostile: Served) -> None:
    shown = run_browser_script(SCRIPT, hostile.base + "/")
    assert shown["status"] == 200
    assert shown["dialogs"] == []
    assert shown["problems"] == []
    assert shown["title"] == f"{PORTAL} · MCP server portal"
    assert shown["name"] == PORTAL
    assert shown["description"] == DESCRIPTION
    assert shown["servers"] == [SERVER]
    assert shown["others"] == [OTHER]
    assert shown["images"] == 0
    assert [src.split("?")[0] for src in shown["scripts"]] == ["/static/homepage.js"]
