"""A portal behind a portal: the inner `codemode serve` signs people in through a real OpenID
Connect provider (`[identity]`, npm oidc-provider) and is the `auth_type = "oauth"` upstream of
the outer `codemode serve`. Both are real subprocesses; the person is headless chromium.

`codemode auth inner` on the outer portal prints the inner portal's authorization URL (found by
RFC 9728 discovery from the inner portal's 401, a client registered there dynamically, PKCE,
the resource indicator); the admin signs in at the provider and allows at the inner portal's
consent page; the browser returns to the outer portal's callback and the outer portal syncs the
inner one's tools. An MCP client of the outer portal then lists and calls a tool that lives in
the inner portal's upstream (mcp-server-time), through both portals, across several expiries of
the inner portal's 2 s access tokens (refreshed without anyone present) and a restart of the
outer portal; the inner portal's request log shows the calls as the admin. Also: the inner
portal's code-mode URL (a query string) as upstream, re-authorizing, dropping the credential
(revoked at the inner portal), the admin signing out at the inner portal (the outer portal's
server turns Error asking to re-authenticate), and no token in any file either portal wrote."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from engine.config import Config
from engine.store import open_store
from tests.identity.harness import (
    SECRET_ENV,
    VENV_BIN,
    Browser,
    Idp,
    Portal,
    brief,
    missing_tools,
    start_idp,
    start_portal,
)
from tests.upstream_oauth.test_admin_credential import ADMIN
from tests.upstreams.harness import REPO, free_port

PERSON = "admin@example.com"
TTL_S = 2
CALLS = 4
"""Calls spread over more than two inner access-token lifetimes (bounded loop)."""


@dataclass
class Stack:
    idp: Idp
    inner: Portal
    outer: Portal
    browser: Browser
    logs: Path
    seen_tokens: set[str] = field(default_factory=set)

    def server_status(self, server_id: str = "inner") -> dict[str, object]:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        answer = httpx2.get(self.outer.origin + "/api/portals", headers=headers, timeout=60)
        portals = answer.json()["result"]
        [server] = [s for p in portals for s in p["servers"] if s["id"] == server_id]
        assert isinstance(server, dict)
        return server

    def browser_authorizes(self, authorization_url: str) -> httpx2.Response:
        """The admin in chromium: signs in at the IdP (unless still signed in), allows at the
        inner portal's consent page; the redirect back to the outer portal is then loaded."""
        report = self.browser.run(
            url=authorization_url,
            idp=self.idp.issuer,
            portal=self.inner.origin,
            account=PERSON,
            consent="allow",
            stopAt=f"{self.outer.origin}/oauth/upstream/callback",
            state=self.browser.state_file(PERSON),
        )
        assert report.get("callback"), brief(report)
        return httpx2.get(report["callback"], timeout=60)  # the browser's last hop

    def stored(self) -> OAuthToken | None:
        """The outer portal's admin credential at the inner portal."""

        async def load() -> OAuthToken | None:
            async with open_store(Config.load(self.outer.config_path).settings) as store:
                return (await store.upstream_tokens.load("inner")).tokens

        tokens = anyio.run(load)
        if tokens is not None:
            self.seen_tokens |= {tokens.access_token, tokens.refresh_token or ""} - {""}
        return tokens

    def client(self) -> OAuthClientInformationFull | None:
        """The client the outer portal registered at the inner portal."""

        async def load() -> OAuthClientInformationFull | None:
            async with open_store(Config.load(self.outer.config_path).settings) as store:
                return (await store.upstream_tokens.load("inner")).client_info

        return anyio.run(load)


def inner_toml(idp: Idp, data: Path) -> str:
    return f"""
[identity]
issuer = "{idp.issuer}"
client_id = "codemode"
client_secret_env = "{SECRET_ENV}"
scopes = ["openid", "email", "profile"]

[settings]
request_log_path = "{data / "requests.sqlite3"}"
request_log_jsonl_path = "{data / "requests.jsonl"}"
database_url = "sqlite+aiosqlite:///{data / "codemode.db"}"
access_token_ttl_s = {TTL_S}

[[policies]]
id = "admins"
decision = "allow"
include = [{{ email = "{PERSON}" }}]

[[servers]]
id = "time"
command = "{VENV_BIN / "mcp-server-time"}"
args = ["--local-timezone", "UTC"]
policies = ["admins"]

[[portals]]
id = "team"
policies = ["admins"]
servers = [{{ server_id = "time" }}]
"""


def outer_toml(inner: Portal, data: Path) -> str:
    return f"""
[settings]
request_log_path = "{data / "requests.sqlite3"}"
database_url = "sqlite+aiosqlite:///{data / "codemode.db"}"

[[servers]]
id = "inner"
url = "{inner.mcp_url("team")}"
auth_type = "oauth"

[[servers]]
id = "innercode"
url = "{inner.mcp_url("team", "?codemode=search_and_execute")}"
auth_type = "oauth"

[[portals]]
id = "main"
servers = [{{ server_id = "inner" }}]

[[portals]]
id = "code"
servers = [{{ server_id = "innercode" }}]
"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    logs = tmp_path_factory.mktemp("portal-behind-portal")
    inner_port = free_port()
    origin = f"http://127.0.0.1:{inner_port}"
    idp = start_idp(
        logs / "idp",
        redirect_uris=[f"{origin}/auth/callback"],
        post_logout_uris=[f"{origin}/signed-out"],
        groups={},
    )
    try:
        data = logs / "inner"
        data.mkdir()
        inner = start_portal(data, inner_port, inner_toml(idp, data), {SECRET_ENV: idp.secret})
        try:
            data = logs / "outer"
            data.mkdir()
            env = {"CODEMODE_ADMIN_TOKEN": ADMIN}
            outer = start_portal(data, free_port(), outer_toml(inner, data), env)
            browser = Browser(logs / "browser")
            try:
                yield Stack(idp, inner, outer, browser, logs)
            finally:
                browser.close()
                outer.process.stop()
        finally:
            inner.process.stop()
    finally:
        idp.process.stop()


def test_without_a_credential_the_outer_portal_asks_for_codemode_auth(stack: Stack) -> None:
    server = stack.server_status()
    assert server["status"] == "Error"
    assert "authentication required — run `codemode auth inner`" in str(server["error_details"])


def test_the_admin_authorizes_the_inner_portal_with_codemode_auth(stack: Stack) -> None:
    argv = [sys.executable, "-m", "engine.cli", "auth", "inner", "--url", stack.outer.origin]
    env = {**os.environ, "PYTHONPATH": str(REPO), "CODEMODE_ADMIN_TOKEN": ADMIN}
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        authorization_url = process.stdout.readline().strip()
        assert authorization_url.startswith(f"{stack.inner.origin}/p/team/authorize?"), (
            authorization_url or process.communicate(timeout=60)
        )
        assert "code_challenge_method=S256" in authorization_url
        assert "resource=" in authorization_url
        page = stack.browser_authorizes(authorization_url)
        assert page.status_code == 200 and "is connected" in page.text, page.text
        _out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert stack.server_status()["status"] == "Ready"


async def _list_and_call(url: str, times: int, pause_s: float) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    async with Client(url) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        [tool] = [n for n in names if n.endswith("get_current_time")]
        for _ in range(times):
            result = await client.call_tool(tool, {"timezone": "UTC"})
            text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
            assert not result.is_error, text
            texts.append(text)
            await anyio.sleep(pause_s)
    return names, texts


def test_a_client_of_the_outer_portal_calls_through_both_portals(stack: Stack) -> None:
    first = stack.stored()
    assert first is not None and first.refresh_token
    names, texts = anyio.run(_list_and_call, stack.outer.mcp_url("main"), CALLS, TTL_S * 0.75)
    assert any(n.endswith("get_current_time") for n in names), names
    assert len(texts) == CALLS and all('"timezone": "UTC"' in t for t in texts), texts
    assert stack.server_status()["status"] == "Ready"
    later = stack.stored()
    assert later is not None and later.access_token != first.access_token  # refreshed, headless


def test_after_a_restart_of_the_outer_portal_an_expired_token_is_refreshed(stack: Stack) -> None:
    before = stack.stored()
    assert before is not None
    stack.outer.process.stop()
    time.sleep(TTL_S + 0.5)  # the held access token lapses while the outer portal is down
    stack.outer.process.start()
    assert stack.server_status()["status"] == "Ready", stack.server_status()
    _names, texts = anyio.run(_list_and_call, stack.outer.mcp_url("main"), 1, 0.0)
    assert len(texts) == 1
    after = stack.stored()
    assert after is not None and after.access_token != before.access_token


def test_the_inner_request_log_shows_the_admins_identity(stack: Stack) -> None:
    path = stack.logs / "inner" / "requests.jsonl"
    records: list[dict[str, object]] = []
    for _ in range(50):  # bounded: the request log is written in batches
        if path.exists():
            records = [json.loads(line) for line in path.read_text().splitlines() if line]
        calls = [r for r in records if str(r.get("capability", "")).endswith("get_current_time")]
        if len(calls) >= CALLS:
            break
        time.sleep(0.2)
    assert len(calls) >= CALLS, records
    assert {r["user"] for r in calls} == {PERSON}, calls
    assert {r["status"] for r in calls} == {"ok"}, calls


def test_re_authorizing_replaces_the_credential_and_the_new_one_works(stack: Stack) -> None:
    old = stack.stored()
    assert old is not None
    headers = {"Authorization": f"Bearer {ADMIN}"}
    started = httpx2.post(
        f"{stack.outer.origin}/oauth/upstream/inner/authorize", headers=headers, timeout=60
    ).json()
    page = stack.browser_authorizes(started["result"]["authorization_url"])
    assert page.status_code == 200 and "is connected" in page.text, page.text
    new = stack.stored()
    assert new is not None and new.refresh_token != old.refresh_token
    # The replaced tokens were revoked at the inner portal; the new ones must still work.
    _names, texts = anyio.run(_list_and_call, stack.outer.mcp_url("main"), 1, 0.0)
    assert len(texts) == 1
    time.sleep(TTL_S + 0.5)  # and refresh
    _names, texts = anyio.run(_list_and_call, stack.outer.mcp_url("main"), 1, 0.0)
    assert len(texts) == 1
    assert stack.server_status()["status"] == "Ready"


async def _run_code_inside(url: str) -> str:
    async with Client(url) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        [tool] = [n for n in names if n.endswith("_code")] or [f"no code tool in {names}"]
        code = "return await codemode.time_get_current_time({timezone: 'UTC'})"
        result = await client.call_tool(tool, {"code": code})
        text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
        assert not result.is_error, text
        return text


def test_the_inner_portals_code_mode_url_is_an_upstream_too(stack: Stack) -> None:
    """The URL the inner portal prints for code mode carries a query string: discovery, the
    resource indicator and the token's audience must all still agree."""
    headers = {"Authorization": f"Bearer {ADMIN}"}
    base = f"{stack.outer.origin}/oauth/upstream/innercode"
    started = httpx2.post(f"{base}/authorize", headers=headers, timeout=60)
    assert started.status_code == 200, started.text
    page = stack.browser_authorizes(started.json()["result"]["authorization_url"])
    assert page.status_code == 200 and "is connected" in page.text, page.text
    assert stack.server_status("innercode")["status"] == "Ready"
    time.sleep(TTL_S + 0.5)  # the call refreshes first: the code-mode URL's query string too
    text = anyio.run(_run_code_inside, stack.outer.mcp_url("code"))
    assert '"timezone": "UTC"' in text or "UTC" in text, text


def test_dropping_the_credential_revokes_it_at_the_inner_portal(stack: Stack) -> None:
    tokens, client = stack.stored(), stack.client()
    assert tokens is not None and tokens.refresh_token and client is not None
    headers = {"Authorization": f"Bearer {ADMIN}"}
    url = f"{stack.outer.origin}/oauth/upstream/inner"
    dropped = httpx2.delete(url, headers=headers, timeout=60).json()
    assert dropped["result"] == {"dropped": True, "revoked": True}
    well_known = f"{stack.inner.origin}/.well-known/oauth-authorization-server/p/team"
    with httpx2.Client(timeout=60) as http:
        token_endpoint = http.get(well_known).json()["token_endpoint"]
        refresh = http.post(
            token_endpoint,
            data={
                "grant_type": "refresh_token",
                "refresh_token": tokens.refresh_token,
                "client_id": client.client_id,
                "resource": stack.inner.mcp_url("team"),
            },
        )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant", refresh.text
    assert stack.stored() is None
    assert "authentication required" in str(stack.server_status()["error_details"])


async def _call_once(url: str) -> tuple[bool, str]:
    async with Client(url) as client:
        result = await client.call_tool("inner_time_get_current_time", {"timezone": "UTC"})
        text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
        return bool(result.is_error), text


def test_signing_out_at_the_inner_portal_ends_the_outer_portals_access(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    started = httpx2.post(
        f"{stack.outer.origin}/oauth/upstream/inner/authorize", headers=headers, timeout=60
    ).json()
    page = stack.browser_authorizes(started["result"]["authorization_url"])
    assert page.status_code == 200 and "is connected" in page.text, page.text
    assert anyio.run(_call_once, stack.outer.mcp_url("main"))[0] is False
    out = stack.browser.run(
        mode="signout",
        url=f"{stack.inner.origin}/p/team/",
        idp=stack.idp.issuer,
        portal=stack.inner.origin,
        state=stack.browser.state_file(PERSON),
    )
    final = out["pages"][-1]
    assert final["url"].startswith(f"{stack.inner.origin}/signed-out"), brief(out)
    # Both of the outer portal's registrations (`inner` and `innercode`) were this person's.
    assert "revoked 2 client sessions (codemode ×2)" in final["text"], final["text"]
    is_error, text = anyio.run(_call_once, stack.outer.mcp_url("main"))
    assert is_error and "re-authenticate the server" in text, text
    server = stack.server_status()
    assert server["status"] == "Error"
    assert "run `codemode auth inner`" in str(server["error_details"])


def test_no_token_in_either_portals_output_request_log_or_database(stack: Stack) -> None:
    assert len(stack.seen_tokens) >= 4
    files = [p for p in stack.logs.rglob("*") if p.is_file() and not p.name.startswith("cookies-")]
    assert any(p.name.startswith("codemode.db") for p in files)
    for path in files:
        data = path.read_bytes()
        for token in stack.seen_tokens:
            assert token.encode() not in data, f"a token in {path.relative_to(stack.logs)}"
