"""The flow as a person and their MCP client live it, against the real IdP, a real browser and
the `mcp` SDK's `OAuthClientProvider`: 401 → discovery → dynamic registration → PKCE →
sign-in at the IdP → the portal's consent page → tools/list and a `code` run → refresh → sign
out in the browser → the client's token and refresh are refused."""

from __future__ import annotations

import re
import time

import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.identity.conftest import Stack
from tests.identity.flows import (
    CODE,
    authorize,
    discover,
    mcp_post,
    page_texts,
    refresh,
    text_of,
)
from tests.identity.harness import (
    PersonAtBrowser,
    brief,
    loopback_redirect_uri,
    oauth_client,
)

pytestmark = pytest.mark.anyio
PERSON = "flo@example.com"  # engineering: sees time and demo in the team portal


def test_mcp_without_a_token_gets_401_pointing_at_the_portals_metadata(flow: Stack) -> None:
    found = discover(flow, "team")
    assert found.challenge.startswith("Bearer ")
    assert found.resource["resource"] == flow.portal.mcp_url("team")
    server = found.server
    assert server["issuer"].startswith(flow.portal.origin)
    for key in ("authorization_endpoint", "token_endpoint", "registration_endpoint"):
        assert server[key].startswith(flow.portal.origin), (key, server[key])
    assert "S256" in server["code_challenge_methods_supported"]
    assert "plain" not in server["code_challenge_methods_supported"]
    assert "revocation_endpoint" in server
    # One protected resource per portal.
    assert discover(flow, "eng").resource["resource"] == flow.portal.mcp_url("eng")


async def test_sign_in_use_refresh_and_sign_out(flow: Stack) -> None:
    flow.browser.forget(PERSON)
    person = PersonAtBrowser(flow.browser, flow.idp, flow.portal, PERSON, loopback_redirect_uri())
    url = flow.portal.mcp_url("team")
    provider, storage = oauth_client(person, url, name="Flow client")
    began = time.monotonic()
    async with (
        create_mcp_http_client(auth=provider) as http,
        Client(streamable_http_client(url, http_client=http), mode="auto") as client,
    ):
        names = {t.name for t in (await client.list_tools()).tools}
    signed_in_s = time.monotonic() - began
    assert "time_get_current_time" in names and "demo_echo" in names, names
    assert storage.tokens is not None and storage.client_info is not None

    # The consent page named the portal, the client, its redirect host, the person and the
    # servers they will see.
    [report] = person.reports
    consent = report.get("consentPage")
    assert consent, brief(report)
    for shown in ("Team tools", "Flow client", "127.0.0.1", PERSON, "Clock", "Demo"):
        assert shown in consent["text"], (shown, consent["text"])

    # A `code` run with the same tokens (same portal, code-mode surface).
    code_provider, _ = oauth_client(person, url + CODE, storage=storage, name="Flow client")
    async with (
        create_mcp_http_client(auth=code_provider) as http,
        Client(streamable_http_client(url + CODE, http_client=http), mode="auto") as client,
    ):
        ran = await client.call_tool(
            "code",
            {"code": "return await codemode.time_get_current_time({timezone: 'UTC'})"},
        )
    assert not ran.is_error, text_of(ran)
    assert "UTC" in text_of(ran)
    assert len(person.reports) == 1, "the second connection asked the person again"

    # Refresh: the access token is treated as expired; the provider refreshes (rotation).
    before = storage.tokens
    provider.context.token_expiry_time = time.time() - 1
    async with (
        create_mcp_http_client(auth=provider) as http,
        Client(streamable_http_client(url, http_client=http), mode="auto") as client,
    ):
        assert (await client.list_tools()).tools
    after = storage.tokens
    assert after is not None and after.access_token != before.access_token
    assert after.refresh_token and after.refresh_token != before.refresh_token
    assert len(person.reports) == 1, "refresh asked the person to sign in again"

    # Sign out in the browser: the homepage shows the email and a Sign out button (a POST).
    out = flow.browser.run(
        mode="signout",
        url=flow.portal.origin + "/p/team/",
        idp=flow.idp.issuer,
        portal=flow.portal.origin,
        state=flow.browser.state_file(PERSON),
    )
    home = out["pages"][0]
    assert PERSON in home["text"] and out["signOutButton"], brief(out)
    final = out["pages"][-1]
    assert final["url"].startswith(flow.portal.origin + "/signed-out"), brief(out)
    assert re.search(
        rf"Signed out {re.escape(PERSON)} — revoked 1 client sessions? \(Flow client\), "
        r"removed 0 server connections\.",
        final["text"],
    ), final["text"]

    # The client's next request: 401 with a challenge; its refresh fails.
    refused = mcp_post(url, after.access_token)
    assert refused.status_code == 401 and "resource_metadata=" in refused.headers.get(
        "www-authenticate", ""
    )
    found = discover(flow, "team")
    client_id = storage.client_info.client_id
    assert client_id is not None
    stale = refresh(found, client_id, after.refresh_token)
    assert stale.status_code == 400 and stale.json()["error"] == "invalid_grant", stale.text

    # Through the SDK: refresh refused, so it falls back to asking the person again.
    asked: list[str] = []

    async def refuse(authorization_url: str) -> None:
        asked.append(authorization_url)
        raise RuntimeError("the person is not asked again in this test")

    provider.context.redirect_handler = refuse
    provider.context.token_expiry_time = time.time() - 1
    with pytest.raises(BaseException):  # noqa: B017 - the SDK wraps it in task groups
        async with (
            create_mcp_http_client(auth=provider) as http,
            Client(streamable_http_client(url, http_client=http), mode="auto") as client,
        ):
            await client.list_tools()
    assert asked, "the SDK got through without a new sign-in after sign-out"

    # The homepage now offers Sign in again.
    again = flow.browser.run(
        mode="page", url=flow.portal.origin + "/p/team/", state=flow.browser.state_file(PERSON)
    )
    assert "Sign in" in again["pages"][0]["text"] and PERSON not in again["pages"][0]["text"]
    print(f"sign-in through the browser and first tools/list: {signed_in_s:.1f} s")


def test_deny_on_the_consent_page_gives_the_client_access_denied(flow: Stack) -> None:
    done = authorize(flow, "ana@example.com", consent="deny")
    assert done.report.get("consentPage"), brief(done.report)
    params = done.params
    assert params.get("error") == "access_denied" and params.get("state") == done.state, params
    assert "code" not in params


def test_a_second_authorization_reuses_the_browser_session(flow: Stack) -> None:
    first = authorize(flow, "ana@example.com")
    assert first.tokens()["access_token"]
    second = authorize(flow, "ana@example.com", fresh=False)
    assert second.tokens()["access_token"]
    # No IdP login page the second time: the portal's session cookie sufficed.
    assert not any(
        p["url"].startswith(flow.idp.issuer) and "Sign-in" in p["text"]
        for p in second.report["pages"]
    ), page_texts(second.report)
