"""A portal (`codemode serve`, a real subprocess) with an `auth_type = "oauth"` upstream: the
test MCP server behind a real authorization server (npm oidc-provider: dynamic registration,
resource indicators, 2 s access tokens, refresh, revocation).

In order, on one stack: without a credential the server is in Error saying to run `codemode
auth`; a callback with a forged state is refused and stores nothing; `codemode auth` prints the
URL, the "browser" (an HTTP client: this AS approves at once) returns to the portal's callback,
the server syncs; a replayed callback is refused; calls keep working across several token
expiries with nobody present; once the refresh token is revoked at the AS the next refresh
fails and the server is in Error naming the cause, its tools still listed; no token ever
appears in the portal's output, its request log or its database file."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp.client import Client
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from engine.config import Config
from engine.store import open_store
from tests.identity.harness import Portal, missing_tools, start_portal
from tests.upstream_oauth.harness import Protected, protected_upstream
from tests.upstreams.harness import REPO, free_port

ADMIN = "admin-" + secrets.token_urlsafe(24)
TTL_S = 2
CALLS = 4
"""Calls spread over more than two token lifetimes (bounded loop)."""


@dataclass
class Stack:
    up: Protected
    portal: Portal
    logs: Path
    config: Path
    seen_tokens: set[str] = field(default_factory=set)

    def admin_get(self, path: str) -> Any:
        headers = {"Authorization": f"Bearer {ADMIN}"}
        return httpx2.get(self.portal.origin + path, headers=headers, timeout=60).json()

    def server_status(self) -> dict[str, Any]:
        [portal] = self.admin_get("/api/portals")["result"]
        [server] = portal["servers"]
        assert isinstance(server, dict)
        return server

    def stored(self) -> tuple[OAuthToken | None, OAuthClientInformationFull | None]:
        async def load() -> tuple[OAuthToken | None, OAuthClientInformationFull | None]:
            async with open_store(Config.load(self.config).settings) as store:
                held = await store.upstream_tokens.load("prot")
                return held.tokens, held.client_info

        tokens, client = anyio.run(load)
        if tokens is not None:
            self.seen_tokens.add(tokens.access_token)
            self.seen_tokens.add(tokens.refresh_token or tokens.access_token)
        return tokens, client


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    logs = tmp_path_factory.mktemp("upstream-oauth")
    with protected_upstream(logs, ttl_s=TTL_S, account="alice") as up:
        toml = f"""
[settings]
database_url = "sqlite+aiosqlite:///{logs}/codemode.db"
request_log_path = "{logs}/requests.db"

[[servers]]
id = "prot"
url = "{up.url}"
auth_type = "oauth"

[[portals]]
id = "main"
servers = [{{ server_id = "prot" }}]
"""
        portal = start_portal(logs, free_port(), toml, {"CODEMODE_ADMIN_TOKEN": ADMIN})
        try:
            yield Stack(up, portal, logs, logs / "portal.toml")
        finally:
            portal.process.stop()


async def _call_whoami(url: str, times: int, pause_s: float) -> list[tuple[bool, str]]:
    results: list[tuple[bool, str]] = []
    async with Client(url) as client:
        for _ in range(times):
            result = await client.call_tool("prot_whoami", {})
            text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
            results.append((result.is_error, text))
            await anyio.sleep(pause_s)
    return results


def test_without_a_credential_the_server_asks_for_codemode_auth(stack: Stack) -> None:
    server = stack.server_status()
    assert server["status"] == "Error"
    assert "authentication required — run `codemode auth prot`" in str(server["error_details"])


def test_a_callback_with_a_forged_state_is_refused_and_stores_nothing(stack: Stack) -> None:
    url = f"{stack.portal.origin}/oauth/upstream/callback?code=stolen&state=forged"
    response = httpx2.get(url, timeout=60)
    assert response.status_code == 400 and "nothing was stored" in response.text
    assert stack.stored() == (None, None)


def test_codemode_auth_then_calls_keep_working_across_expiries(stack: Stack) -> None:
    argv = [sys.executable, "-m", "engine.cli", "auth", "prot", "--url", stack.portal.origin]
    env = {**os.environ, "PYTHONPATH": str(REPO), "CODEMODE_ADMIN_TOKEN": ADMIN}
    process = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        authorization_url = process.stdout.readline().strip()
        assert authorization_url.startswith(stack.up.issuer)
        assert (
            "code_challenge_method=S256" in authorization_url and "resource=" in authorization_url
        )
        page = httpx2.get(authorization_url, follow_redirects=True, timeout=60)
        assert page.status_code == 200 and "is connected" in page.text, page.text
        _out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    replay = httpx2.get(str(page.url), timeout=60)  # the same callback URL, a second time
    assert replay.status_code == 400 and "used already" in replay.text
    assert stack.server_status()["status"] == "Ready"
    first, _client = stack.stored()
    assert first is not None and first.refresh_token

    results = anyio.run(_call_whoami, stack.portal.mcp_url("main"), CALLS, TTL_S * 0.75)
    assert results == [(False, "alice")] * CALLS
    later, _client = stack.stored()
    assert later is not None and later.access_token != first.access_token  # refreshed, headless
    assert stack.server_status()["status"] == "Ready"


async def _meet(url: str, n: int) -> list[str]:
    """`n` calls of `meet(n)` at once, each from its own client of the portal."""
    answers: list[str] = []

    async def one() -> None:
        async with Client(url) as client:
            result = await client.call_tool("prot_meet", {"n": n})
        answers.append(result.content[0].text if result.content else "")  # type: ignore[union-attr]

    async with anyio.create_task_group() as group:
        for _ in range(n):
            group.start_soon(one)
    return answers


def test_calls_to_an_oauth_upstream_run_side_by_side(stack: Stack) -> None:
    """The SDK's OAuth provider held its lock until each response's headers came back, so the
    calls of all clients to an OAuth upstream that answers with JSON went one at a time."""
    assert anyio.run(_meet, stack.portal.mcp_url("main"), 3) == ["met"] * 3


def test_a_refresh_token_revoked_at_the_as_puts_the_server_in_error(stack: Stack) -> None:
    tokens, client = stack.stored()
    assert tokens is not None and tokens.refresh_token and client is not None
    revoked = httpx2.post(
        f"{stack.up.issuer}/token/revocation",
        data={"token": tokens.refresh_token, "client_id": client.client_id},
        timeout=60,
    )
    assert revoked.status_code == 200
    time.sleep(TTL_S + 0.5)  # let the access token lapse: the next call must refresh
    [(is_error, text)] = anyio.run(_call_whoami, stack.portal.mcp_url("main"), 1, 0.0)
    assert is_error and "re-authenticate the server" in text, text
    server = stack.server_status()
    assert server["status"] == "Error"
    assert "re-authenticate the server (run `codemode auth prot`)" in str(server["error_details"])
    assert server["tool_count"] == 3  # the last good sync's tools stay listed


def test_re_authorizing_recovers_and_dropping_revokes_at_the_as(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}"}
    base = f"{stack.portal.origin}/oauth/upstream/prot"
    started = httpx2.post(f"{base}/authorize", headers=headers, timeout=60).json()
    page = httpx2.get(started["result"]["authorization_url"], follow_redirects=True, timeout=60)
    assert "is connected" in page.text, page.text
    assert stack.server_status()["status"] == "Ready"
    assert anyio.run(_call_whoami, stack.portal.mcp_url("main"), 1, 0.0) == [(False, "alice")]
    tokens, client = stack.stored()
    assert tokens is not None and tokens.refresh_token and client is not None

    dropped = httpx2.delete(base, headers=headers, timeout=60).json()
    assert dropped["result"] == {"dropped": True, "revoked": True}
    refresh = httpx2.post(
        f"{stack.up.issuer}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens.refresh_token,
            "client_id": client.client_id,
            "resource": stack.up.url,
        },
        timeout=60,
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"
    assert stack.stored() == (None, None)
    assert "authentication required" in str(stack.server_status()["error_details"])


def test_no_token_in_the_output_request_log_or_database(stack: Stack) -> None:
    stack.stored()
    assert stack.seen_tokens
    files = [p for p in stack.logs.iterdir() if p.is_file() and p.name != "seen.txt"]
    assert any(p.name.startswith("codemode.db") for p in files)
    for path in files:
        data = path.read_bytes()
        for token in stack.seen_tokens:
            assert token.encode() not in data, f"a token in {path.name}"
