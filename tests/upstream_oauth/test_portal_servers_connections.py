"""`portal_servers` / `codemode.portal.*` tied to the person's own upstream connections, on
real parts: the stack of `test_person_credentials` (a `codemode serve` with `[identity]`, an
`on_behalf` server behind a real npm oidc-provider, `mcp` SDK clients holding portal tokens of
a client grant, each person's browser).

`select` gives the real server selection page of the portal (on the origin the client used),
where the person toggles servers for that client (never for another person's);
`list` shows beside enabled-for-this-client the person's connection (not connected,
connected, expired); `logout` disconnects exactly as the page's Log out (the row deleted, the
token revoked at the authorization server, the next call asks to connect again), and is a
clear error where there is nothing of the person's to log out of."""

from __future__ import annotations

import re
import time
from typing import Any

import anyio
import anyio.to_thread
import httpx2
import mcp_types as types
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.identity.test_server_selection import Inbox, connect
from tests.upstream_oauth.harness import admin_authorizes
from tests.upstream_oauth.test_person_credentials import (
    ADMIN,
    API_KEY,
    TTL_S,
    Browser,
    Stack,
    _code,
    _field,
    _held_client,
    portal_token,
    stack,
    whoami,
)

__all__ = ["stack"]  # the module-scoped fixture: one stack for this module

ANA = "ana@example.com"
TOKENS: dict[str, str] = {}


def _token(stack: Stack, email: str) -> str:
    if email not in TOKENS:
        TOKENS[email] = portal_token(stack, email)
    return TOKENS[email]


async def _servers_tool(url: str, bearer: str, args: dict[str, Any]) -> types.CallToolResult:
    headers = {"Authorization": f"Bearer {bearer}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode="auto") as client,
    ):
        return await client.call_tool("portal_servers", args)


def portal_servers(stack: Stack, bearer: str, **args: str) -> types.CallToolResult:
    return anyio.run(_servers_tool, stack.mcp, bearer, args)


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


def prot_of(stack: Stack) -> dict[str, Any]:
    listed = portal_servers(stack, _token(stack, ANA), action="list")
    assert not listed.is_error, text_of(listed)
    [prot] = [s for s in (listed.structured_content or {})["servers"] if s["id"] == "prot"]
    return dict(prot)


def code(stack: Stack, source: str) -> tuple[bool, str]:
    return anyio.run(_code, stack.mcp + "?codemode=search_and_execute", _token(stack, ANA), source)


def test_the_admin_credential_syncs_the_catalog(stack: Stack) -> None:
    """The server's tools are listed once an admin authorized it (the person's calls below)."""
    admin_authorizes(stack.portal.origin, ADMIN)


def select_url(stack: Stack) -> str:
    page = portal_servers(stack, _token(stack, ANA), action="select")
    assert not page.is_error, text_of(page)
    return str((page.structured_content or {})["url"])


def test_select_gives_the_server_selection_page_of_this_portal(stack: Stack) -> None:
    url = select_url(stack)
    # This portal's page, with this client's toggles (its grant id).
    assert re.fullmatch(rf"{stack.portal.origin}/connections\?portal=main&client=[\w-]+", url)
    failed, said = code(stack, "return (await codemode.portal.select()).url")
    assert not failed and url in said, said
    ana = Browser(stack, ANA)
    ana.sign_in()
    shown = ana.http.get(url)
    assert shown.status_code == 200 and 'data-state="not connected"' in shown.text
    grant = url.split("client=")[1]
    assert f'data-client="{grant}"' in shown.text
    assert 'class="toggle" data-server="prot" data-enabled="on"' in shown.text


def toggle(browser: Browser, url: str, enabled: str, csrf: str | None = None) -> httpx2.Response:
    grant = url.split("client=")[1]
    page = browser.http.get(url).text
    form = {"portal": "main", "client": grant, "server": "prot", "enabled": enabled}
    form["csrf"] = csrf or _field(page, "csrf")
    return browser.http.post(f"{browser.stack.portal.origin}/connections/toggle", data=form)


async def _toggle_announced(stack: Stack, browser: Browser, url: str) -> httpx2.Response:
    inbox = Inbox()
    async with connect(stack.mcp, _token(stack, ANA), inbox) as session:
        await session.list_tools()
        response = await anyio.to_thread.run_sync(toggle, browser, url, "off")
        await inbox.announced()
    return response


def test_the_page_toggles_a_server_for_that_client_only_for_its_person(stack: Stack) -> None:
    url = select_url(stack)
    ana = Browser(stack, ANA)
    ana.sign_in()
    off = anyio.run(_toggle_announced, stack, ana, url)  # list_changed to that client's session
    assert off.status_code == 200 and 'data-server="prot" data-enabled="off"' in off.text
    assert prot_of(stack)["enabled"] is False  # the client's own selection, as the tool sees it
    names = anyio.run(_tool_names, stack.mcp, _token(stack, ANA))
    assert "prot_whoami" not in names and "portal_servers" in names
    # Another person cannot see or change ana's client; a forged form changes nothing.
    bob = Browser(stack, "bob@example.com")
    bob.sign_in()
    assert bob.http.get(url).status_code == 404
    grant = url.split("client=")[1]
    csrf = _field(bob.page(), "csrf")
    for client in (grant, "no-such-grant"):
        form = {"portal": "main", "client": client, "server": "prot", "enabled": "on"}
        stolen = bob.http.post(
            f"{stack.portal.origin}/connections/toggle", data=form | {"csrf": csrf}
        )
        assert stolen.status_code == 404 and "No such client of yours" in stolen.text
    assert toggle(ana, url, "on", csrf="forged").status_code == 403
    assert prot_of(stack)["enabled"] is False
    on = toggle(ana, url, "on")
    assert on.status_code == 200 and 'data-server="prot" data-enabled="on"' in on.text
    assert prot_of(stack)["enabled"] is True
    assert "prot_whoami" in anyio.run(_tool_names, stack.mcp, _token(stack, ANA))


def test_list_shows_the_persons_connection_beside_enabled(stack: Stack) -> None:
    assert prot_of(stack)["connection"] == "not connected"
    ana = Browser(stack, ANA)
    ana.sign_in()
    assert "is connected" in ana.connect().text
    prot = prot_of(stack)
    assert prot["enabled"] is True and prot["connection"] == "connected", prot
    failed, said = code(stack, "return (await codemode.portal.list())[0].connection")
    assert not failed and "connected" in said and "not" not in said, said
    # Refresh refused at the authorization server: after a failed call, "expired".
    held = stack.held(ANA)
    assert held is not None and held.refresh_token
    revoked = httpx2.post(
        f"{stack.up.issuer}/token/revocation",
        data={"token": held.refresh_token, "client_id": _held_client(stack, ANA)},
        timeout=60,
    )
    assert revoked.status_code == 200
    time.sleep(TTL_S + 0.5)  # the access token lapses: the next call must refresh, and cannot
    is_error, text = whoami(stack, _token(stack, ANA))
    assert is_error and "expired" in text, text
    assert prot_of(stack)["connection"] == "expired"


def test_logout_disconnects_exactly_as_the_page_does(stack: Stack) -> None:
    ana = Browser(stack, ANA)
    ana.sign_in()
    assert "is connected" in ana.connect().text
    held = stack.held(ANA)
    assert held is not None and held.refresh_token
    out = portal_servers(stack, _token(stack, ANA), action="logout", server="prot")
    assert not out.is_error, text_of(out)
    assert (out.structured_content or {})["connection"] == "not connected"
    assert stack.held(ANA) is None
    assert 'data-state="not connected"' in ana.page()
    refreshed = httpx2.post(
        f"{stack.up.issuer}/token",
        data={"grant_type": "refresh_token", "refresh_token": held.refresh_token},
        timeout=60,
    )
    assert refreshed.status_code >= 400  # revoked at the authorization server
    is_error, text = whoami(stack, _token(stack, ANA))
    assert is_error and "you have not connected it yet" in text, text
    # Nothing left to log out of: a clear error naming the page.
    again = portal_servers(stack, _token(stack, ANA), action="logout", server="prot")
    assert again.is_error and "not connected to 'prot'" in text_of(again), text_of(again)
    assert "/connections?portal=main" in text_of(again)


def test_codemode_portal_logout_in_code(stack: Stack) -> None:
    ana = Browser(stack, ANA)
    ana.sign_in()
    assert "is connected" in ana.connect().text
    failed, said = code(stack, 'return (await codemode.portal.logout("prot")).connection')
    assert not failed and "not connected" in said, said
    assert stack.held(ANA) is None
    caught = 'try { await codemode.portal.logout("prot"); } catch (e) { return e.message; }'
    failed, said = code(stack, caught)
    assert not failed and "nothing to log out of" in said, said


def test_logout_where_there_is_no_connection_of_the_persons_is_an_error(stack: Stack) -> None:
    unknown = portal_servers(stack, _token(stack, ANA), action="logout", server="nosuch")
    assert unknown.is_error and "no server 'nosuch'" in text_of(unknown), text_of(unknown)
    # An API key is no person: portal_servers is not even listed to it (no client grant).
    names = anyio.run(_tool_names, stack.mcp, API_KEY)
    assert "portal_servers" not in names


async def _tool_names(url: str, bearer: str) -> set[str]:
    headers = {"Authorization": f"Bearer {bearer}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode="auto") as client,
    ):
        return {t.name for t in (await client.list_tools()).tools}
