"""The batched prompt when an admin adds `on_behalf` servers to a portal, on real parts: a
portal (`codemode serve`) whose config gains two on_behalf servers on SIGHUP, the test MCP
server behind a real authorization server, `mcp` SDK clients of both eras, and each person's
browser (`Browser`).

A person connected to the portal's first on_behalf server is asked once, on their next call,
about both new servers in one URL request; not again after; a person who never connected
anything, or who saw the new servers on the server selection page, is not asked."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from functools import partial
from urllib.parse import urlencode

import httpx2
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.identity.harness import missing_tools, start_portal
from tests.upstream_oauth.harness import protected_upstream
from tests.upstream_oauth.test_admin_credential import _run
from tests.upstream_oauth.test_asking_in_runs import ADMIN, _admin_authorizes, _config, _token
from tests.upstream_oauth.test_person_credentials import Browser, Stack
from tests.upstreams.harness import free_port

POLLS = 150
"""Looks at most at the page while the reload applies (bounded loop)."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    logs = tmp_path_factory.mktemp("new-servers")
    with protected_upstream(logs, account="alice") as up:
        config = _config(logs, up.url, 30.0)
        portal = start_portal(logs, free_port(), config, {"CODEMODE_ADMIN_TOKEN": ADMIN})
        try:
            found = Stack(up, portal, logs)
            _admin_authorizes(found)
            yield found
        finally:
            portal.process.stop()


def _add_servers(stack: Stack) -> None:
    """The admin adds `prot2` and `prot3` (the same upstream) as on_behalf servers."""
    path = stack.portal.config_path
    text = path.read_text().replace(
        'servers = [{ server_id = "prot", on_behalf = true }]',
        'servers = [{ server_id = "prot", on_behalf = true }, '
        '{ server_id = "prot2", on_behalf = true }, { server_id = "prot3", on_behalf = true }]',
    )
    for extra in ("prot2", "prot3"):
        text += f'\n[[servers]]\nid = "{extra}"\nurl = "{stack.up.url}"\nauth_type = "oauth"\n'
        text += 'policies = ["staff"]\n'
    path.write_text(text)
    stack.portal.process.process.send_signal(signal.SIGHUP)


def _lists(browser: Browser, server_id: str) -> bool:
    page = browser.http.get(f"{browser.stack.portal.origin}/connections?portal=main")
    return f'data-server="{server_id}"' in page.text


def _connected(stack: Stack, email: str) -> None:
    browser = Browser(stack, email)
    browser.sign_in()
    assert browser.connect().status_code == 200


async def _call(stack: Stack, email: str, mode: str) -> tuple[bool, str, list[str]]:
    """`prot_whoami` from a client of era `mode` that answers URL elicitation with accept
    (without connecting anything) and records the URLs it was asked to open."""
    seen: list[str] = []

    async def elicited(_ctx: object, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestURLParams)
        seen.append(params.url)
        return types.ElicitResult(action="accept" if "prot2" in params.url else "decline")

    headers = {"Authorization": f"Bearer {_token(stack, email)}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(
            streamable_http_client(stack.mcp, http_client=http),
            mode=mode,
            elicitation_callback=elicited,
        ) as client,
    ):
        result = await client.call_tool("prot_whoami", {})
    text = "".join(c.text for c in result.content if isinstance(c, types.TextContent))
    return bool(result.is_error), text, seen


def call(stack: Stack, email: str, mode: str = "legacy") -> tuple[bool, str, list[str]]:
    _token(stack, email)
    return _run(partial(_call, stack, email, mode))


def _page(stack: Stack, *servers: str) -> str:
    query = urlencode([("portal", "main"), *(("server", s) for s in servers)])
    return f"{stack.portal.origin}/connections?{query}"


def test_new_on_behalf_servers_are_asked_about_once_together(stack: Stack) -> None:
    for email in ("kim@example.com", "lee@example.com", "nat@example.com"):
        _connected(stack, email)
    assert call(stack, "kim@example.com") == (False, "kim", [])  # nothing new yet
    _add_servers(stack)
    watcher = Browser(stack, "watcher@example.com")
    watcher.sign_in()
    for _ in range(POLLS):
        if _lists(watcher, "prot3"):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("the reload did not add prot3")
    batched = _page(stack, "prot2", "prot3")
    # kim (2025 session): one elicitation for both, the call goes on; not asked again.
    assert call(stack, "kim@example.com") == (False, "kim", [batched])
    assert call(stack, "kim@example.com") == (False, "kim", [])
    # lee (2026 requests): the same URL in an InputRequiredResult; the retry goes on.
    assert call(stack, "lee@example.com", "auto") == (False, "lee", [batched])
    assert call(stack, "lee@example.com", "auto") == (False, "lee", [])
    # nat saw the new servers listed on the server selection page: not asked.
    nat = Browser(stack, "nat@example.com")
    nat.sign_in()
    assert _lists(nat, "prot2")
    assert call(stack, "nat@example.com") == (False, "nat", [])
    # mo never connected anything: asked to connect the server called, nothing batched.
    is_error, text, seen = call(stack, "mo@example.com")
    assert is_error and seen == [_page(stack, "prot")], (text, seen)
