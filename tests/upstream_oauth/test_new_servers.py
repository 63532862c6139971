"""The batched prompt when an admin adds `on_behalf` servers to a portal, on real parts: a
portal (`codemode serve`) whose config gains two on_behalf servers on SIGHUP, the test MCP
server behind a real authorization server, `mcp` SDK clients of both eras, and each person's
browser (`Browser`).

A person connected to the portal's first on_behalf server is asked once, on their next call,
about both new servers in one URL request; not again after; a person who never connected
anything, or who saw the new servers on the server selection page, is not asked."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import signal
import time
from collections.abc import Iterator
from functools import partial
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from tests.identity.harness import missing_tools, start_portal
from tests.identity_flow.devflow import REDIRECT_URI
from tests.upstream_oauth.harness import admin_authorizes, protected_upstream
from tests.upstream_oauth.test_asking_in_runs import (
    ADMIN,
    TOKENS,
    _config,
    _token,
)
from tests.upstream_oauth.test_person_credentials import Browser, Stack, _field
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
            admin_authorizes(found.portal.origin, ADMIN)
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
    return anyio.run(partial(_call, stack, email, mode))


def _page(stack: Stack, *servers: str) -> str:
    query = urlencode([("portal", "main"), *(("server", s) for s in servers)])
    return f"{stack.portal.origin}/connections?{query}"


def test_new_on_behalf_servers_are_asked_about_once_together(stack: Stack) -> None:
    for email in ("kim@example.com", "lee@example.com", "nat@example.com"):
        _connected(stack, email)
        _token(stack, email)  # signed in to the client before: the sign-in showed only prot
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
    kim = Browser(stack, "kim@example.com")
    kim.sign_in()
    page = kim.http.get(batched).text  # the page the URL opens marks both servers
    for server_id in ("prot2", "prot3"):
        assert f'data-server="{server_id}" data-state="not connected" data-wanted="1"' in page
    assert 'data-server="prot" data-state="connected">' in page
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


def _authorize(stack: Stack, http: httpx2.Client, verifier: str) -> tuple[str, str]:
    """Register a client and start its /authorize: the client id and the consent page."""
    issuer = f"{stack.portal.origin}/p/main"
    registered = http.post(
        f"{issuer}/register",
        json={
            "client_name": "Claude",
            "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        },
    )
    assert registered.status_code == 201, registered.text
    client_id = registered.json()["client_id"]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "code_challenge": challenge.decode().rstrip("="),
        "code_challenge_method": "S256",
        "state": "st",
        "resource": f"{issuer}/mcp",
    }
    consent = http.get(f"{issuer}/authorize?{urlencode(query)}")
    assert 'id="allow"' in consent.text, consent.text[:300]
    return client_id, consent.text


def test_sign_in_ends_on_the_server_selection_page_and_done_finishes_it(stack: Stack) -> None:
    pia, other = Browser(stack, "pia@example.com"), Browser(stack, "quin@example.com")
    pia.sign_in()
    other.sign_in()
    verifier = secrets.token_urlsafe(48)
    client_id, consent = _authorize(stack, pia.http, verifier)
    decision = {"request": _field(consent, "request"), "csrf": _field(consent, "csrf")}
    allowed = pia.http.post(
        f"{stack.portal.origin}/auth/consent",
        data={**decision, "decision": "allow"},
        follow_redirects=False,
    )
    assert allowed.status_code == 303, allowed.text
    step = allowed.headers["location"]
    assert step.startswith("/connections?portal=main&signin="), step
    page = pia.http.get(f"{stack.portal.origin}{step}").text
    assert 'id="signin-step"' in page and page.count('data-state="not connected"') == 3
    signin = _field(page, "signin")
    # Connect one server from this step: the upstream's callback links back to the step.
    form = {"portal": "main", "server": "prot", "csrf": _field(page, "csrf"), "signin": signin}
    started = pia.http.post(f"{stack.portal.origin}/connections/connect", data=form)
    link = re.search(r'id="continue" href="([^"]+)"', started.text)
    assert link is not None, started.text
    url = link.group(1).replace("&amp;", "&") + "&login_hint=pia"
    connected = pia.http.get(pia.callback_url(url))
    assert "is connected" in connected.text and "signin=" in connected.text, connected.text
    page = pia.http.get(f"{stack.portal.origin}{step}").text
    assert 'data-server="prot" data-state="connected"' in page and 'id="finish"' in page
    finish = f"{stack.portal.origin}/auth/consent/finish"
    # Refused: another person's session, a forged sealed request, a missing CSRF token.
    theirs = {"signin": signin, "csrf": _field(other.page(), "csrf")}
    assert other.http.post(finish, data=theirs, follow_redirects=False).status_code == 400
    forged = {"signin": signin[:-4] + "AAAA", "csrf": _field(page, "csrf")}
    assert pia.http.post(finish, data=forged, follow_redirects=False).status_code == 400
    no_csrf = pia.http.post(finish, data={"signin": signin}, follow_redirects=False)
    assert no_csrf.status_code == 403
    done = pia.http.post(
        finish, data={"signin": signin, "csrf": _field(page, "csrf")}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"].startswith(REDIRECT_URI)
    params = parse_qs(urlsplit(done.headers["location"]).query)
    assert params["state"] == ["st"] and params["code"]
    exchanged = httpx2.post(
        f"{stack.portal.origin}/p/main/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"][0],
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
            "client_id": client_id,
            "resource": f"{stack.portal.origin}/p/main/mcp",
        },
        timeout=60,
    )
    assert exchanged.status_code == 200, exchanged.text
    TOKENS[(stack.portal.port, "pia@example.com")] = exchanged.json()["access_token"]
    assert call(stack, "pia@example.com")[:2] == (False, "pia")
