"""Per-person upstream credentials (`on_behalf = true`), end to end on real parts: a portal
(`codemode serve`, a subprocess) with `[identity] provider = "dev"`, the test MCP server
behind a real authorization server (npm oidc-provider; it signs in the account named by
`login_hint`), MCP clients of the `mcp` SDK holding portal tokens of two people, and each
person's browser (an HTTP client keeping that person's cookies).

In order, on one stack: the admin credential syncs the catalog; a person not connected gets
an isError result naming the connect page; ana and bob connect on that page and each one's
`whoami` answers with their own subject, also under concurrent calls; a connection revoked
at the authorization server asks to reconnect; inside `code` the call carries the person's
token or rejects with the URL; a 2025 client is asked by URL elicitation and the call goes
on, a 2026 client gets an InputRequiredResult with the URL; a callback with a
forged state, one finished in another person's session and a replay are refused and store
nothing; Log out forgets and revokes the token (the next call asks to connect again); an API
key is refused on the on_behalf server; sign-out disconnects the person's servers and says
which; no token is in the portal's output, request log or database file."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from urllib.parse import urljoin

import anyio
import anyio.to_thread
import httpx2
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthToken

from engine.config import Config
from engine.credentials import hash_api_key
from engine.store import open_store
from tests.identity.harness import Portal, missing_tools, start_portal
from tests.identity_flow.devflow import connect_client
from tests.upstream_oauth.harness import (
    Protected,
    admin_authorizes,
    person_portal_toml,
    protected_upstream,
)
from tests.upstreams.harness import free_port

ADMIN = "admin-" + secrets.token_urlsafe(24)
API_KEY = "key-" + secrets.token_urlsafe(24)
TTL_S = 3
"""Short access tokens: the concurrent calls below run across a refresh."""
ROUNDS = 6
"""Calls per person in the concurrent test (bounded loop)."""


@dataclass
class Stack:
    up: Protected
    portal: Portal
    logs: Path
    tokens_seen: set[str] = field(default_factory=set)

    @property
    def mcp(self) -> str:
        return self.portal.mcp_url("main")

    def held(self, email: str) -> OAuthToken | None:
        """The token the store holds for this person (recorded for the leak check)."""

        async def load() -> OAuthToken | None:
            async with open_store(Config.load(self.portal.config_path).settings) as store:
                person = await store.people.by_email(email)
                if person is None:
                    return None
                return (await store.upstream_tokens.load("prot", person.id)).tokens

        tokens = anyio.run(load)
        if tokens is not None:
            self.tokens_seen.add(tokens.access_token)
            if tokens.refresh_token:
                self.tokens_seen.add(tokens.refresh_token)
        return tokens


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    logs = tmp_path_factory.mktemp("person-oauth")
    with protected_upstream(logs, ttl_s=TTL_S, account="alice") as up:
        toml = person_portal_toml(
            logs,
            up.url,
            include='{ service = "ci" }',
            portal=f'api_keys = [{{ name = "ci", sha256 = "{hash_api_key(API_KEY)}" }}]',
        )
        env = {"CODEMODE_ADMIN_TOKEN": ADMIN}
        portal = start_portal(logs, free_port(), toml, env)
        try:
            yield Stack(up, portal, logs)
        finally:
            portal.process.stop()


# ----- the parts a test drives -----


class Browser:
    """One person's browser: cookies kept, redirects followed by hand where it matters."""

    def __init__(self, stack: Stack, email: str) -> None:
        self.stack, self.email = stack, email
        self.http = httpx2.Client(timeout=60, follow_redirects=True)

    def sign_in(self) -> None:
        page = self.http.get(f"{self.stack.portal.origin}/connections?portal=main")
        assert "/auth/dev" in str(page.url), page.url
        form = {"email": self.email, "groups": "", "next": _field(page.text, "next")}
        form["csrf"] = _field(page.text, "csrf")
        landed = self.http.post(f"{self.stack.portal.origin}/auth/dev", data=form)
        assert "/connections" in str(landed.url) and landed.status_code == 200, landed.text

    def page(self) -> str:
        page = self.http.get(f"{self.stack.portal.origin}/connections?portal=main&server=prot")
        assert page.status_code == 200, page.text
        return page.text

    def start_connect(self) -> str:
        """Press Connect: the authorization URL the page links on to (as this person)."""
        form = {"portal": "main", "server": "prot", "csrf": _field(self.page(), "csrf")}
        page = self.http.post(f"{self.stack.portal.origin}/connections/connect", data=form)
        assert page.status_code == 200, page.text
        link = re.search(r'id="continue" href="([^"]+)"', page.text)
        assert link is not None, page.text
        url = link.group(1).replace("&amp;", "&")
        assert url.startswith(self.stack.up.issuer) and "code_challenge_method=S256" in url
        return url + "&login_hint=" + self.email.split("@")[0]

    def callback_url(self, authorization_url: str) -> str:
        """Follow the authorization server (it approves at once) up to the portal's
        callback, without requesting it."""
        url = authorization_url
        for _ in range(10):
            response = self.http.get(url, follow_redirects=False)
            assert response.is_redirect, response.text
            url = urljoin(url, response.headers["location"])
            if url.startswith(f"{self.stack.portal.origin}/oauth/upstream/callback"):
                return url
        raise AssertionError("no redirect back to the portal")

    def connect(self) -> httpx2.Response:
        return self.http.get(self.callback_url(self.start_connect()))

    def post_form(self, path: str) -> httpx2.Response:
        form = {"portal": "main", "server": "prot", "csrf": _field(self.page(), "csrf")}
        return self.http.post(f"{self.stack.portal.origin}{path}", data=form)


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match is not None, f"no {name} field in {html[:500]!r}"
    return match.group(1)


def portal_token(stack: Stack, email: str) -> str:
    tokens = anyio.run(partial(connect_client, stack.portal.origin, email, portal="/p/main"))
    return tokens.access_token


async def _whoami(url: str, bearer: str, times: int = 1) -> list[tuple[bool, str]]:
    headers = {"Authorization": f"Bearer {bearer}"}
    out: list[tuple[bool, str]] = []
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode="auto") as client,
    ):
        for _ in range(times):
            result = await client.call_tool("prot_whoami", {})
            text = "".join(c.text for c in result.content if isinstance(c, types.TextContent))
            out.append((bool(result.is_error), text))
            await anyio.sleep(TTL_S / ROUNDS)
    return out


async def _concurrently(url: str, people: dict[str, str]) -> dict[str, list[tuple[bool, str]]]:
    found: dict[str, list[tuple[bool, str]]] = {}

    async def one(name: str, bearer: str) -> None:
        found[name] = await _whoami(url, bearer, ROUNDS)

    async with anyio.create_task_group() as tg:
        for name, bearer in people.items():
            tg.start_soon(one, name, bearer)
    return found


def whoami(stack: Stack, bearer: str) -> tuple[bool, str]:
    [answer] = anyio.run(_whoami, stack.mcp, bearer)
    return answer


# ----- the tests, in order -----

PEOPLE: dict[str, str] = {}
"""email -> portal access token (filled by the first test that needs them)."""


def _token(stack: Stack, email: str) -> str:
    if email not in PEOPLE:
        PEOPLE[email] = portal_token(stack, email)
    return PEOPLE[email]


def test_the_admin_credential_syncs_the_catalog(stack: Stack) -> None:
    admin_authorizes(stack.portal.origin, ADMIN)


def test_a_person_not_connected_is_told_where_to_connect(stack: Stack) -> None:
    is_error, text = whoami(stack, _token(stack, "ana@example.com"))
    assert is_error
    url = f"{stack.portal.origin}/connections?portal=main&server=prot"
    assert url in text and "you have not connected it yet" in text, text
    assert "alice" not in text  # the admin credential was not used


def test_each_person_calls_with_their_own_token_also_concurrently(stack: Stack) -> None:
    for email in ("ana@example.com", "bob@example.com"):
        browser = Browser(stack, email)
        browser.sign_in()
        assert 'data-state="not connected"' in browser.page()
        answer = browser.connect()
        assert answer.status_code == 200 and "is connected" in answer.text, answer.text
        assert 'data-state="connected"' in browser.page()
    home = browser.http.get(f"{stack.portal.origin}/").text
    assert 'id="connections" href="/connections?portal=main"' in home
    ana, bob = _token(stack, "ana@example.com"), _token(stack, "bob@example.com")
    assert whoami(stack, ana) == (False, "ana")
    assert whoami(stack, bob) == (False, "bob")
    found = anyio.run(_concurrently, stack.mcp, {"ana": ana, "bob": bob})
    assert found == {"ana": [(False, "ana")] * ROUNDS, "bob": [(False, "bob")] * ROUNDS}
    assert stack.held("ana@example.com") is not None and stack.held("bob@example.com")


def _held_client(stack: Stack, email: str) -> str:
    async def load() -> str:
        async with open_store(Config.load(stack.portal.config_path).settings) as store:
            person = await store.people.by_email(email)
            assert person is not None
            held = await store.upstream_tokens.load("prot", person.id)
            assert held.client_info is not None
            return held.client_info.client_id

    return anyio.run(load)


def test_expired_beyond_refresh_asks_to_reconnect_and_reconnecting_works(stack: Stack) -> None:
    held = stack.held("ana@example.com")
    assert held is not None and held.refresh_token
    revoked = httpx2.post(
        f"{stack.up.issuer}/token/revocation",
        data={"token": held.refresh_token, "client_id": _held_client(stack, "ana@example.com")},
        timeout=60,
    )
    assert revoked.status_code == 200
    time.sleep(TTL_S + 0.5)  # the access token lapses: the next call must refresh, and cannot
    is_error, text = whoami(stack, _token(stack, "ana@example.com"))
    assert is_error and "expired and could not be refreshed" in text, text
    assert "/connections?portal=main&server=prot" in text
    ana = Browser(stack, "ana@example.com")
    ana.sign_in()
    assert 'data-state="expired"' in ana.page()
    answer = ana.connect()
    assert answer.status_code == 200 and "is connected" in answer.text, answer.text
    assert whoami(stack, _token(stack, "ana@example.com")) == (False, "ana")
    assert whoami(stack, _token(stack, "bob@example.com")) == (False, "bob")


async def _code(url: str, bearer: str, code: str) -> tuple[bool, str]:
    headers = {"Authorization": f"Bearer {bearer}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(streamable_http_client(url, http_client=http), mode="auto") as client,
    ):
        result = await client.call_tool("code", {"code": code})
    text = "".join(c.text for c in result.content if isinstance(c, types.TextContent))
    return bool(result.is_error), text


def test_inside_code_the_call_carries_the_person_or_rejects_with_the_url(stack: Stack) -> None:
    url = stack.mcp + "?codemode=search_and_execute"
    ana = _token(stack, "ana@example.com")
    ok = anyio.run(_code, url, ana, "const r = await codemode.prot_whoami({}); return r;")
    assert not ok[0] and "ana" in ok[1] and "alice" not in ok[1], ok
    caught = "try { await codemode.prot_whoami({}); return 'no'; } catch (e) { return e.message; }"
    is_error, text = anyio.run(_code, url, _token(stack, "dan@example.com"), caught)
    assert not is_error, text
    connect = f"{stack.portal.origin}/connections?portal=main&server=prot"
    assert connect in text and "you have not connected it yet" in text, text


Opener = Callable[[str, str], None]
"""Opens an elicited URL as a person (email, URL) and connects there."""


def _open_with_http(stack: Stack, email: str, _url: str) -> None:
    browser = Browser(stack, email)
    browser.sign_in()
    assert browser.connect().status_code == 200


async def _eliciting_whoami(
    stack: Stack, email: str, accept: bool, mode: str = "legacy", opener: Opener | None = None
) -> tuple[bool, str, list[str]]:
    """A client (`legacy`: a 2025-11-25 session; `auto`: 2026-07-28 requests) that answers
    URL elicitation by opening the URL in the person's browser and connecting there
    (`accept`; `opener`, by default an HTTP client with cookies), or declining."""
    seen: list[str] = []
    open_url = opener or partial(_open_with_http, stack)

    async def elicited(_ctx: object, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestURLParams)
        seen.append(f"elicit {params.url}")
        if not accept:
            return types.ElicitResult(action="decline")
        await anyio.to_thread.run_sync(open_url, email, params.url)
        return types.ElicitResult(action="accept")

    async def messages(message: object) -> None:
        if isinstance(message, types.ElicitCompleteNotification):
            seen.append("complete")

    # `_token` runs its own event loop: in a thread, not inside this one.
    bearer = await anyio.to_thread.run_sync(_token, stack, email)
    headers = {"Authorization": f"Bearer {bearer}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=60) as http,
        Client(
            streamable_http_client(stack.mcp, http_client=http),
            mode=mode,
            elicitation_callback=elicited,
            message_handler=messages,
        ) as client,
    ):
        result = await client.call_tool("prot_whoami", {})
    text = "".join(c.text for c in result.content if isinstance(c, types.TextContent))
    return bool(result.is_error), text, seen


def test_a_2025_client_is_asked_by_url_elicitation_and_the_call_goes_on(stack: Stack) -> None:
    page = f"{stack.portal.origin}/connections?portal=main&server=prot"
    declined = anyio.run(_eliciting_whoami, stack, "fay@example.com", False)
    assert declined[0] and page in declined[1] and declined[2] == [f"elicit {page}"], declined
    assert stack.held("fay@example.com") is None
    is_error, text, seen = anyio.run(_eliciting_whoami, stack, "erin@example.com", True)
    assert (is_error, text) == (False, "erin")
    assert seen == [f"elicit {page}", "complete"], seen
    assert stack.held("erin@example.com") is not None  # recorded for the leak check


def test_a_2026_client_gets_the_url_in_an_input_required_round(stack: Stack) -> None:
    page = f"{stack.portal.origin}/connections?portal=main&server=prot"
    declined = anyio.run(_eliciting_whoami, stack, "hal@example.com", False, "auto")
    assert declined[0] and page in declined[1] and declined[2] == [f"elicit {page}"], declined
    assert stack.held("hal@example.com") is None
    is_error, text, seen = anyio.run(_eliciting_whoami, stack, "gus@example.com", True, "auto")
    assert (is_error, text, seen) == (False, "gus", [f"elicit {page}"])
    assert stack.held("gus@example.com") is not None


def test_bad_and_foreign_callbacks_are_refused_and_store_nothing(stack: Stack) -> None:
    ana, carol = Browser(stack, "ana@example.com"), Browser(stack, "carol@example.com")
    ana.sign_in()
    carol.sign_in()
    before = stack.held("ana@example.com")
    forged = ana.http.get(f"{stack.portal.origin}/oauth/upstream/callback?code=x&state=forged")
    assert forged.status_code == 400 and "nothing was stored" in forged.text
    # carol starts, the code comes back in ana's session: refused, and the state is spent.
    callback = carol.callback_url(carol.start_connect())
    foreign = ana.http.get(callback)
    assert foreign.status_code == 403 and "nothing was stored" in foreign.text, foreign.text
    replay = carol.http.get(callback)
    assert replay.status_code == 400 and "used already" in replay.text
    assert stack.held("carol@example.com") is None
    assert stack.held("ana@example.com") == before
    # Signed out (no session at all): refused as well.
    anonymous = httpx2.Client(timeout=60)
    callback = carol.callback_url(carol.start_connect())
    assert anonymous.get(callback).status_code == 403
    assert stack.held("carol@example.com") is None


def test_log_out_forgets_the_token_and_the_next_call_asks_again(stack: Stack) -> None:
    ana = Browser(stack, "ana@example.com")
    ana.sign_in()
    held = stack.held("ana@example.com")
    assert held is not None and held.refresh_token
    response = ana.post_form("/connections/logout")
    assert response.status_code == 200 and 'data-state="not connected"' in response.text
    assert stack.held("ana@example.com") is None
    is_error, text = whoami(stack, _token(stack, "ana@example.com"))
    assert is_error and "/connections?portal=main&server=prot" in text
    # Revoked at the authorization server: the refresh token no longer works there.
    refreshed = httpx2.post(
        f"{stack.up.issuer}/token",
        data={"grant_type": "refresh_token", "refresh_token": held.refresh_token},
        timeout=60,
    )
    assert refreshed.status_code >= 400
    # A Log out without the session's CSRF token is refused.
    forged = ana.http.post(
        f"{stack.portal.origin}/connections/logout",
        data={"portal": "main", "server": "prot", "csrf": "forged"},
    )
    assert forged.status_code == 403
    assert whoami(stack, _token(stack, "bob@example.com")) == (False, "bob")


def test_an_api_key_may_not_call_an_on_behalf_server(stack: Stack) -> None:
    is_error, text = whoami(stack, API_KEY)
    assert is_error and "is not a signed-in person" in text, text


def test_sign_out_disconnects_the_persons_servers(stack: Stack) -> None:
    bob = Browser(stack, "bob@example.com")
    bob.sign_in()
    assert stack.held("bob@example.com") is not None
    csrf = _field(bob.http.get(f"{stack.portal.origin}/").text, "csrf")
    page = bob.http.post(f"{stack.portal.origin}/auth/logout", data={"csrf": csrf})
    assert page.status_code == 200 and "Disconnected servers: prot" in page.text, page.text
    assert "removed 1 server connection" in page.text
    assert stack.held("bob@example.com") is None


def test_no_token_in_output_request_log_or_database(stack: Stack) -> None:
    assert stack.tokens_seen
    files = [stack.logs / "codemode.db", stack.logs / "requests.db"]
    files += [p for p in stack.logs.iterdir() if p.suffix in (".log", ".txt", ".out", ".err")]
    text = stack.portal.process.output().encode()
    for path in files:
        if path.exists():
            text += path.read_bytes()
    for token in stack.tokens_seen:
        assert token.encode() not in text
