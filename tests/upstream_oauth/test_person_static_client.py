"""A person's credential (`on_behalf = true`) for a server whose authorization server knows
the portal only as a pre-registered confidential client (no dynamic registration used):
`oauth_client_id` + `oauth_client_secret_env` in the config.

Real parts, as in `test_person_credentials`: a portal (`codemode serve`) with the dev
identity provider, npm oidc-provider with that client registered beforehand (HTTP Basic)
in front of the test MCP server, MCP clients of the `mcp` SDK, and the person's browser (an
HTTP client). The person's Connect sends the static client; their calls keep working across
several access-token expiries, each refreshed headless with the static client and its secret
(the SDK stores no client it did not register, so the client must come from the config); Log
out revokes the grant with that client; the secret is in no output or file."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Iterator

import httpx2
import pytest

from tests.identity.harness import missing_tools, start_portal
from tests.upstream_oauth.harness import admin_authorizes, person_portal_toml, protected_upstream
from tests.upstream_oauth.test_person_credentials import Browser, Stack, portal_token, whoami
from tests.upstreams.harness import free_port

ADMIN = "admin-" + secrets.token_urlsafe(24)
CLIENT_ID = "codemode-static"
SECRET = "static-client-secret-" + uuid.uuid4().hex
TTL_S = 2
"""The authorization server's access-token lifetime: refreshes come soon."""
EXPIRIES = 3
"""Access-token lifetimes the person's calls run across (bounded loop)."""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    logs = tmp_path_factory.mktemp("person-static")
    port = free_port()
    callback = f"http://127.0.0.1:{port}/oauth/upstream/callback"
    static = (CLIENT_ID, SECRET, callback)
    with protected_upstream(logs, ttl_s=TTL_S, static_client=static) as up:
        server = f'oauth_client_id = "{CLIENT_ID}"\noauth_client_secret_env = "PROT_CLIENT_SECRET"'
        toml = person_portal_toml(logs, up.url, server=server)
        env = {"CODEMODE_ADMIN_TOKEN": ADMIN, "PROT_CLIENT_SECRET": SECRET}
        portal = start_portal(logs, port, toml, env)
        try:
            yield Stack(up, portal, logs)
        finally:
            portal.process.stop()


def _refresh_at_the_as(stack: Stack, refresh_token: str) -> httpx2.Response:
    """A refresh as the static client would send it (HTTP Basic with its secret)."""
    return httpx2.post(
        f"{stack.up.issuer}/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=httpx2.BasicAuth(CLIENT_ID, SECRET),
        timeout=60,
    )


def test_the_admin_credential_syncs_the_catalog_with_the_static_client(stack: Stack) -> None:
    url = admin_authorizes(stack.portal.origin, ADMIN)
    assert f"client_id={CLIENT_ID}" in url, url


def test_the_persons_connect_sends_the_static_client(stack: Stack) -> None:
    ana = Browser(stack, "ana@example.com")
    ana.sign_in()
    url = ana.start_connect()
    assert f"client_id={CLIENT_ID}&" in url, url
    answer = ana.http.get(ana.callback_url(url))  # the code is exchanged with the secret
    assert answer.status_code == 200 and "is connected" in answer.text, answer.text
    assert whoami(stack, portal_token(stack, "ana@example.com")) == (False, "ana")


def test_the_persons_calls_go_on_across_expiries_refreshed_with_the_static_client(
    stack: Stack,
) -> None:
    bearer = portal_token(stack, "ana@example.com")
    held = stack.held("ana@example.com")
    assert held is not None and held.refresh_token
    seen = {held.access_token}
    for _ in range(EXPIRIES):
        time.sleep(TTL_S + 0.5)  # the access token lapses: the call must refresh, headless
        assert whoami(stack, bearer) == (False, "ana")
        held = stack.held("ana@example.com")
        assert held is not None and held.access_token not in seen  # refreshed and stored
        seen.add(held.access_token)


def test_log_out_revokes_the_grant_with_the_static_client(stack: Stack) -> None:
    ana = Browser(stack, "ana@example.com")
    ana.sign_in()
    held = stack.held("ana@example.com")
    assert held is not None and held.refresh_token
    response = ana.post_form("/connections/logout")
    assert response.status_code == 200 and 'data-state="not connected"' in response.text
    assert stack.held("ana@example.com") is None
    refused = _refresh_at_the_as(stack, held.refresh_token)
    assert refused.status_code == 400 and "invalid_grant" in refused.text, refused.text


def test_no_secret_or_token_in_output_request_log_or_database(stack: Stack) -> None:
    assert stack.tokens_seen
    files = [p for p in stack.logs.iterdir() if p.is_file()]
    assert any(p.name.startswith("codemode.db") for p in files)
    text = stack.portal.process.output().encode()
    for path in files:
        text += path.read_bytes()
    for value in {SECRET, *stack.tokens_seen}:
        assert value.encode() not in text
