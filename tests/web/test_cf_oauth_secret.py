"""A static OAuth client's secret given through the Cloudflare-shaped admin API is the secret
the portal authenticates with at the upstream's authorization server.

Real parts: the official `cloudflare` SDK writes the server (`client_secret`, and our own
`oauth_client_id` in `extra_body`); the authorization server is npm oidc-provider with that
client pre-registered as confidential (HTTP Basic), in front of the test MCP server; the
admin's browser is an HTTP client (this authorization server approves at once). A wrong secret
is refused at the token endpoint; the right one, sent by the SDK's update, connects the server;
the secret never comes back from a read, nor sits in the clear in the database or the log."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest
from anyio.from_thread import BlockingPortal

from tests.identity.harness import missing_tools
from tests.upstream_oauth.harness import Protected, protected_upstream
from tests.web.cf_write_helpers import ACCOUNT, Running, log_file, run_portal, seed_config

CLIENT_ID = "codemode-static"
SECRET = "static-client-secret-" + uuid.uuid4().hex
WRONG = "not-the-secret-" + uuid.uuid4().hex
TTL_S = 2
"""The authorization server's access-token lifetime: refreshes come soon."""


@dataclass
class Stack:
    cf: Running
    up: Protected

    def authorize(self) -> httpx2.Response:
        """`codemode auth prot` done by hand: start the flow, follow the URL as a browser."""
        started = httpx2.post(
            f"{self.cf.base}/oauth/upstream/prot/authorize",
            headers={"Authorization": f"Bearer {self.cf.tokens['writer']}"},
            timeout=60,
        )
        assert started.status_code == 200, started.text
        url = started.json()["result"]["authorization_url"]
        assert url.startswith(self.up.issuer) and f"client_id={CLIENT_ID}" in url
        return httpx2.get(url, follow_redirects=True, timeout=60)

    def stored(self) -> str:
        """The access token the portal holds for `prot` (read from the store)."""

        async def load() -> str:
            held = await self.cf.gateway.store.upstream_tokens.load("prot")  # type: ignore[union-attr]
            return held.tokens.access_token if held.tokens else ""

        return self.cf.portal.call(load)

    def server(self) -> dict[str, Any]:
        response = self.cf.http("GET", "/servers/prot", "reader")
        assert response.status_code == 200, response.text
        assert SECRET not in response.text and WRONG not in response.text
        result: dict[str, Any] = response.json()["result"]
        return result


@pytest.fixture(scope="module")
def stack(
    blocking_portal: BlockingPortal, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("cf-oauth")
    with log_file(tmp / "codemode.log"), run_portal(blocking_portal, seed_config(tmp), tmp) as cf:
        callback = f"{cf.base}/oauth/upstream/callback"
        with protected_upstream(
            tmp / "up", ttl_s=TTL_S, static_client=(CLIENT_ID, SECRET, callback)
        ) as up:
            yield Stack(cf, up)


def test_the_secret_needs_the_client_id_and_an_oauth_server(stack: Stack) -> None:
    body = {"id": "x", "name": "X", "hostname": stack.up.url, "client_secret": SECRET}
    no_id = stack.cf.http("POST", "/servers", json={**body, "auth_type": "oauth"})
    assert no_id.status_code == 400 and "needs oauth_client_id" in no_id.text, no_id.text
    bearer = stack.cf.http("POST", "/servers", json={**body, "auth_type": "bearer"})
    assert bearer.status_code == 400 and "needs auth_type oauth" in bearer.text, bearer.text
    assert SECRET not in no_id.text + bearer.text


def test_a_wrong_secret_is_refused_at_the_token_endpoint(stack: Stack) -> None:
    stack.cf.sdk().servers.create(
        account_id=ACCOUNT,
        id="prot",
        name="Protected",
        hostname=stack.up.url,
        auth_type="oauth",
        client_secret=WRONG,
        extra_body={"oauth_client_id": CLIENT_ID},
    )
    assert stack.server()["auth_config_summary"] == {"has_client_secret": True}
    page = stack.authorize()
    assert page.status_code == 400 and "invalid_client" in page.text, page.text
    assert stack.server()["status"] == "error"


def test_the_secret_from_the_sdk_update_connects_the_server(stack: Stack) -> None:
    # The SDK's update cannot send `oauth_client_id`: the PUT keeps it.
    stack.cf.sdk().servers.update(
        "prot", account_id=ACCOUNT, name="Protected", client_secret=SECRET
    )
    page = stack.authorize()
    assert page.status_code == 200 and "is connected" in page.text, page.text
    stack.cf.wait_status("prot", "Ready")
    server = stack.server()
    assert {t["name"] for t in server["tools"]} == {"whoami", "echo", "meet"}
    first = stack.stored()
    time.sleep(TTL_S + 0.5)  # the access token lapses: the sync must refresh it, headless
    synced = stack.cf.sdk().servers.sync("prot", account_id=ACCOUNT)
    assert synced is not None and synced.status == "ready", synced
    assert stack.stored() != first  # refreshed with the static client and its secret


def test_a_secret_changed_through_the_api_is_used_by_the_next_refresh(stack: Stack) -> None:
    mcp = stack.cf.sdk()
    mcp.servers.update("prot", account_id=ACCOUNT, name="Protected", client_secret=WRONG)
    time.sleep(TTL_S + 0.5)  # the access token lapses: the next request must refresh
    synced = mcp.servers.sync("prot", account_id=ACCOUNT)
    assert synced is not None and synced.status == "error", synced  # the new secret was sent
    assert "refused the portal's client for server 'prot' (invalid_client)" in str(synced.error)
    assert "check the client secret" in str(synced.error)
    # The right secret again: the stored grant still works, no new authorization needed.
    mcp.servers.update("prot", account_id=ACCOUNT, name="Protected", client_secret=SECRET)
    stack.cf.wait_status("prot", "Ready")


def test_dropping_the_credential_revokes_it_with_the_static_client(stack: Stack) -> None:
    headers = {"Authorization": f"Bearer {stack.cf.tokens['writer']}"}
    url = f"{stack.cf.base}/oauth/upstream/prot"
    dropped = httpx2.delete(url, headers=headers, timeout=60)
    assert dropped.json()["result"] == {"dropped": True, "revoked": True}, dropped.text


def test_the_secret_is_not_in_the_clear_in_the_database_or_the_log(stack: Stack) -> None:
    files = [p for p in stack.cf.tmp.iterdir() if p.is_file()]
    assert any(p.name.startswith("codemode.db") for p in files)
    for path in files:
        data = path.read_bytes()
        assert SECRET.encode() not in data and WRONG.encode() not in data, path.name
