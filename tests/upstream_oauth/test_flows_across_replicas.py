"""Upstream authorizations across two portal replicas (two `codemode serve` processes on one
PostgreSQL database, addressed directly, as a load balancer without affinity would send a
browser's requests): the real authorization server (npm oidc-provider) and the OAuth-protected
test MCP server of `tests.upstream_oauth.harness`, a person's browser as an HTTP client
keeping their cookies (cookies are per host, so it is signed in on both replicas).

- A 2025-11-25 session on replica 1 is asked to connect by URL elicitation; the person
  connects on replica 2 (page, Connect and the upstream's callback); replica 1 learns it from
  the store, sends `notifications/elicitation/complete`, and the call answers as the person.
- A 2026-07-28 client whose requests alternate between the replicas gets the
  `InputRequiredResult` from one and its retry answered by the other; the person's callback
  lands on the replica that did not start the authorization.
- A state used on one replica is refused on the other (and nothing more is stored).
- The admin API's status of a flow (what `codemode auth` polls) is the same on both.
- A refresh refused on one replica shows the connection "expired" on the other's page.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import anyio
import anyio.to_thread
import httpx2
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from engine.config import Config
from engine.store import open_store
from tests.identity.harness import Portal, missing_tools, start_portal
from tests.pg_cluster import PgCluster
from tests.upstream_oauth.harness import (
    Protected,
    admin_authorizes,
    person_portal_toml,
    protected_upstream,
)
from tests.upstream_oauth.test_person_credentials import Browser, Stack, _whoami, portal_token
from tests.upstreams.harness import free_port

ADMIN = "admin-" + secrets.token_urlsafe(24)
SECRET = "replicas-secret-" + secrets.token_hex(16)
PAGE = "/connections?portal=main&server=prot"
TTL_S = 3
"""Short upstream access tokens: the expiry test waits one out."""


@dataclass
class Replicas:
    up: Protected
    one: Portal
    two: Portal
    logs: Path

    def on(self, portal: Portal) -> Stack:
        """The view of one replica the browser helpers take."""
        return Stack(self.up, portal, self.logs)

    def held(self, email: str) -> bool:
        async def load() -> bool:
            config = Config.load(self.one.config_path)
            async with open_store(config.settings, environ={"CODEMODE_SECRET_KEY": SECRET}) as s:
                person = await s.people.by_email(email)
                if person is None:
                    return False
                return (await s.upstream_tokens.load("prot", person.id)).tokens is not None

        return anyio.run(load)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster) -> Iterator[Replicas]:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    logs = tmp_path_factory.mktemp("flows-replicas")
    env = {"CODEMODE_ADMIN_TOKEN": ADMIN, "CODEMODE_SECRET_KEY": SECRET}
    with protected_upstream(logs, ttl_s=TTL_S, account="alice") as up:
        database_url = pg_cluster.new_database()
        started: list[Portal] = []
        try:
            for name in ("one", "two"):
                directory = logs / name
                directory.mkdir()
                toml = person_portal_toml(directory, up.url, database_url=database_url)
                started.append(start_portal(directory, free_port(), toml, env))
                if name == "one":  # the admin credential first, so both replicas sync with it
                    admin_authorizes(started[0].origin, ADMIN)
            yield Replicas(up, started[0], started[1], logs)
        finally:
            for portal in started:
                portal.process.stop()


class Alternating(httpx2.AsyncBaseTransport):
    """A balancer without affinity, made deterministic: each `tools/call` request goes to
    the next replica in turn (recorded), anything else to the first."""

    def __init__(self, ports: list[int]) -> None:
        self.ports, self.calls = ports, list[int]()
        self._inner = httpx2.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        port = self.ports[0]
        if b'"tools/call"' in request.read():
            port = self.ports[len(self.calls) % len(self.ports)]
            self.calls.append(port)
        request.url = request.url.copy_with(port=port)
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _call(
    replicas: Replicas,
    email: str,
    bearer: str,
    mode: str,
    connect_on: Portal,
    callback_on: Portal,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> tuple[bool, str, list[str]]:
    """`prot_whoami` from a client of replica 1 (`legacy`: a 2025 session; `auto`: 2026
    requests) that answers the URL elicitation by connecting in the browser: the page and
    Connect on `connect_on`, the upstream's callback delivered to `callback_on`."""
    seen: list[str] = []
    connected_at: list[float] = []

    async def elicited(_ctx: object, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestURLParams)
        seen.append(f"elicit {params.url}")
        browser = Browser(replicas.on(connect_on), email)

        def open_and_connect() -> None:
            browser.sign_in()
            callback = browser.callback_url(browser.start_connect())
            callback = callback.replace(connect_on.origin, callback_on.origin)
            answer = browser.http.get(callback)
            assert answer.status_code == 200 and "is connected" in answer.text, answer.text
            connected_at.append(time.monotonic())

        await anyio.to_thread.run_sync(open_and_connect)
        return types.ElicitResult(action="accept")

    async def messages(message: object) -> None:
        if isinstance(message, types.ElicitCompleteNotification):
            seen.append("complete")

    headers = {"Authorization": f"Bearer {bearer}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60, transport=transport) as http,
        Client(
            streamable_http_client(replicas.one.mcp_url("main"), http_client=http),
            mode=mode,
            elicitation_callback=elicited,
            message_handler=messages,
        ) as client,
    ):
        result = await client.call_tool("prot_whoami", {})
    if connected_at:  # a figure for the README (run with -s), not an assertion
        went_on = (time.monotonic() - connected_at[0]) * 1000
        print(f"\n{mode}: the call answered {went_on:.0f} ms after the callback's page")
    text = "".join(c.text for c in result.content if isinstance(c, types.TextContent))
    return bool(result.is_error), text, seen


def test_a_2025_session_on_one_replica_completes_when_the_person_connects_on_the_other(
    replicas: Replicas,
) -> None:
    one, two = replicas.one, replicas.two
    bearer = portal_token(replicas.on(one), "erin@example.com")
    is_error, text, seen = anyio.run(
        _call, replicas, "erin@example.com", bearer, "legacy", two, two
    )
    assert (is_error, text) == (False, "erin"), text
    assert seen == [f"elicit {one.origin}{PAGE}", "complete"], seen
    assert replicas.held("erin@example.com")


def test_a_2026_retry_on_the_other_replica_finds_the_token(replicas: Replicas) -> None:
    one, two = replicas.one, replicas.two
    bearer = portal_token(replicas.on(one), "gus@example.com")
    balancer = Alternating([one.port, two.port])
    # The flow starts on replica 1; its callback lands on replica 2.
    is_error, text, seen = anyio.run(
        _call, replicas, "gus@example.com", bearer, "auto", one, two, balancer
    )
    assert (is_error, text) == (False, "gus"), text
    assert seen == [f"elicit {one.origin}{PAGE}"], seen
    # Asked by replica 1, answered on the retry by replica 2.
    assert balancer.calls == [one.port, two.port], balancer.calls
    assert replicas.held("gus@example.com")


def test_a_state_used_on_one_replica_is_refused_on_the_other(replicas: Replicas) -> None:
    one, two = replicas.one, replicas.two
    carol = Browser(replicas.on(two), "carol@example.com")
    carol.sign_in()
    callback = carol.callback_url(carol.start_connect())
    # Replayed first on the replica that started nothing: the state is still spent there.
    replayed_first = callback.replace(two.origin, one.origin)
    used = carol.http.get(replayed_first)
    assert used.status_code == 200 and "is connected" in used.text, used.text
    again = carol.http.get(callback)
    assert again.status_code == 400 and "used already" in again.text, again.text
    assert carol.http.get(replayed_first).status_code == 400
    assert replicas.held("carol@example.com")
    # A state refused as foreign on one replica is spent on the other too.
    dan, eve = Browser(replicas.on(one), "dan@example.com"), Browser(replicas.on(two), "x")
    dan.sign_in()
    foreign = dan.callback_url(dan.start_connect())
    assert eve.http.get(foreign.replace(one.origin, two.origin)).status_code == 403
    assert dan.http.get(foreign).status_code == 400
    assert not replicas.held("dan@example.com")


def test_the_admin_status_is_the_same_on_every_replica(replicas: Replicas) -> None:
    """`codemode auth` polls `GET /oauth/upstream/<id>` through the balancer: a flow started
    on replica 1 is pending on replica 2, and its outcome is seen on both."""
    one, two = replicas.one, replicas.two
    headers = {"Authorization": f"Bearer {ADMIN}"}

    def status(portal: Portal) -> dict[str, str]:
        url = f"{portal.origin}/oauth/upstream/prot"
        result: dict[str, str] = httpx2.get(url, headers=headers, timeout=60).json()["result"]
        return result

    def start() -> str:
        url = f"{one.origin}/oauth/upstream/prot/authorize"
        started = httpx2.post(url, headers=headers, timeout=60).json()
        return str(started["result"]["authorization_url"])

    authorization = start()
    assert status(two)["state"] == "pending" and status(one)["state"] == "pending"
    state = parse_qs(urlsplit(authorization).query)["state"][0]
    denied = f"{two.origin}/oauth/upstream/callback?error=access_denied&state={state}"
    assert httpx2.get(denied, timeout=60).status_code == 400
    for portal in (one, two):
        shown = status(portal)
        assert shown["state"] == "failed" and "access_denied" in shown["error"], shown
    # Again, approved, the callback on replica 2: connected on both.
    url = start()
    with httpx2.Client(timeout=60) as browser:
        for _ in range(10):
            response = browser.get(url, follow_redirects=False)
            assert response.is_redirect, response.text
            url = urljoin(url, response.headers["location"])
            if url.startswith(f"{one.origin}/oauth/upstream/callback"):
                break
        page = browser.get(url.replace(one.origin, two.origin))
    assert page.status_code == 200 and "is connected" in page.text, page.text
    assert status(one) == status(two) == {"state": "connected", "error": None}


def test_expired_seen_on_one_replica_is_shown_on_the_other(replicas: Replicas) -> None:
    """erin (connected by the first test) has her refresh token revoked at the authorization
    server: replica 1 finds it out on her next call; replica 2's page says "expired"."""
    client_id, refresh = _held_refresh(replicas, "erin@example.com")
    revoked = httpx2.post(
        f"{replicas.up.issuer}/token/revocation",
        data={"token": refresh, "client_id": client_id},
        timeout=60,
    )
    assert revoked.status_code == 200
    time.sleep(TTL_S + 0.5)  # the access token lapses: the next call must refresh, and cannot
    bearer = portal_token(replicas.on(replicas.one), "erin@example.com")
    [(is_error, text)] = anyio.run(_whoami, replicas.one.mcp_url("main"), bearer)
    assert is_error and "expired and could not be refreshed" in text, text
    erin = Browser(replicas.on(replicas.two), "erin@example.com")
    erin.sign_in()
    assert 'data-state="expired"' in erin.page()


def _held_refresh(replicas: Replicas, email: str) -> tuple[str, str]:
    async def load() -> tuple[str, str]:
        config = Config.load(replicas.one.config_path)
        async with open_store(config.settings, environ={"CODEMODE_SECRET_KEY": SECRET}) as s:
            person = await s.people.by_email(email)
            assert person is not None
            held = await s.upstream_tokens.load("prot", person.id)
            assert held.client_info is not None and held.tokens is not None
            assert held.tokens.refresh_token is not None
            return held.client_info.client_id, held.tokens.refresh_token

    return anyio.run(load)
