"""Bad input and attacks on the portal's authorization server, sign-in and sign-out, over
real HTTP with the `dev` provider: each gets a clear error and nothing leaks.

Registrations are rate limited per client address (all of these come from 127.0.0.1), so
this module registers few clients and floods last."""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest

from engine import Config
from engine.server.oauth import MAX_REGISTRATION_BYTES, REGISTRATIONS_PER_MINUTE
from engine.server.serve import dev_sign_in_refusal
from tests.identity_flow.conftest import CI_KEY, NO_ACCESS, Browser, form_value, query
from tests.identity_flow.test_flow import mcp_status
from tests.server.conftest import ServedPortal

pytestmark = [pytest.mark.anyio]

REDIRECT = "http://127.0.0.1:9/callback"
_CLIENTS: dict[str, str] = {}


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


async def client_id(served: ServedPortal) -> str:
    """One public client per portal served (registering is rate limited)."""
    if served.base not in _CLIENTS:
        async with httpx2.AsyncClient() as http:
            r = await http.post(
                f"{served.base}/p/team/register",
                json={
                    "redirect_uris": [REDIRECT],
                    "client_name": "Cursor",
                    "token_endpoint_auth_method": "none",
                    "grant_types": ["authorization_code", "refresh_token"],
                },
            )
        assert r.status_code == 201, r.text
        _CLIENTS[served.base] = r.json()["client_id"]
    return _CLIENTS[served.base]


def authorize_url(served: ServedPortal, cid: str, challenge: str, **extra: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": cid,
        "redirect_uri": REDIRECT,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": "st-1",
        "resource": f"{served.base}/p/team/mcp",
        **extra,
    }
    sent = {k: v for k, v in params.items() if v is not None}
    return f"{served.base}/p/team/authorize?{urlencode(sent)}"


async def signed_in_browser(served: ServedPortal, email: str = "ana@example.com") -> Browser:
    browser = Browser(served.base)
    page = await browser.go("GET", "/auth/login?next=/p/team/")
    assert not isinstance(page, str)
    await browser.sign_in(page, email)
    return browser


async def consent(browser: Browser, url: str, decision: str = "allow") -> str:
    page = await browser.go("GET", url, stop_at=REDIRECT)
    assert not isinstance(page, str), page
    landed = await browser.go(
        "POST",
        "/auth/consent",
        data={
            "request": form_value(page.text, "request"),
            "csrf": form_value(page.text, "csrf"),
            "decision": decision,
        },
        stop_at=REDIRECT,
    )
    assert isinstance(landed, str)
    return landed


async def token(served: ServedPortal, portal: str = "team", **data: str) -> httpx2.Response:
    async with httpx2.AsyncClient() as http:
        return await http.post(f"{served.base}/p/{portal}/token", data=data)


async def code_for(served: ServedPortal, browser: Browser) -> tuple[str, str, str]:
    cid = await client_id(served)
    verifier, challenge = pkce()
    landed = await consent(browser, authorize_url(served, cid, challenge))
    q = query(landed)
    assert q["state"] == "st-1" and q["iss"] == f"{served.base}/p/team"
    return cid, q["code"], verifier


async def tokens_for(served: ServedPortal, browser: Browser) -> dict[str, Any]:
    cid, code, verifier = await code_for(served, browser)
    r = await token(
        served,
        grant_type="authorization_code",
        code=code,
        code_verifier=verifier,
        client_id=cid,
        redirect_uri=REDIRECT,
    )
    assert r.status_code == 200, r.text
    return {"client_id": cid, **r.json()}


async def test_discovery_names_the_portal_as_issuer_and_resource(served: ServedPortal) -> None:
    r = await mcp_status(f"{served.base}/p/team/mcp", None)
    assert r.status_code == 401
    challenge = r.headers["www-authenticate"]
    prm_url = f"{served.base}/.well-known/oauth-protected-resource/p/team/mcp"
    assert challenge.startswith(f'Bearer resource_metadata="{prm_url}"')
    assert "error=" not in challenge
    async with httpx2.AsyncClient() as http:
        prm = (await http.get(prm_url)).json()
        asm = (
            await http.get(f"{served.base}/.well-known/oauth-authorization-server/p/team")
        ).json()
        root = (await http.get(f"{served.base}/.well-known/oauth-authorization-server")).json()
    assert prm["resource"] == f"{served.base}/p/team/mcp"
    assert prm["authorization_servers"] == [f"{served.base}/p/team"]
    assert asm["issuer"] == f"{served.base}/p/team"
    assert asm["authorization_endpoint"] == f"{served.base}/p/team/authorize"
    assert asm["code_challenge_methods_supported"] == ["S256"]
    assert asm["authorization_response_iss_parameter_supported"] is True
    assert root["issuer"] == served.base


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": None}, "invalid_request"),
        ({"resource": "http://127.0.0.1:1/p/other/mcp"}, "invalid_target"),
    ],
)
async def test_authorize_requires_s256_and_this_portal_as_resource(
    served: ServedPortal, change: dict[str, str | None], error: str
) -> None:
    cid = await client_id(served)
    _, challenge = pkce()
    async with httpx2.AsyncClient() as http:
        r = await http.get(authorize_url(served, cid, challenge, **change))
    assert r.status_code == 302
    assert r.headers["location"].startswith(REDIRECT)
    assert query(r.headers["location"])["error"] == error


@pytest.mark.parametrize("redirect", ["https://evil.example/cb", "http://127.0.0.1:9/other"])
async def test_an_unregistered_redirect_uri_is_refused_without_redirecting(
    served: ServedPortal, redirect: str
) -> None:
    cid = await client_id(served)
    _, challenge = pkce()
    async with httpx2.AsyncClient() as http:
        r = await http.get(authorize_url(served, cid, challenge, redirect_uri=redirect))
    assert r.status_code == 400 and "location" not in r.headers
    assert r.json()["error"] == "invalid_request"


async def test_wrong_verifier_then_code_replay_revokes_what_the_code_gave(
    served: ServedPortal,
) -> None:
    browser = await signed_in_browser(served)
    try:
        cid, code, verifier = await code_for(served, browser)
        exchange = {"grant_type": "authorization_code", "code": code, "client_id": cid}
        exchange["redirect_uri"] = REDIRECT
        wrong = await token(served, **exchange, code_verifier=pkce()[0])
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
        first = await token(served, **exchange, code_verifier=verifier)
        assert first.status_code == 200
        access = first.json()["access_token"]
        assert (await mcp_status(f"{served.base}/p/team/mcp", access)).status_code == 200
        replay = await token(served, **exchange, code_verifier=verifier)
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        assert code not in replay.text
        refused = await mcp_status(f"{served.base}/p/team/mcp", access)
        assert refused.status_code == 401
    finally:
        await browser.close()


async def test_refresh_token_reuse_revokes_the_grant(served: ServedPortal) -> None:
    browser = await signed_in_browser(served)
    try:
        got = await tokens_for(served, browser)
        refresh = {"grant_type": "refresh_token", "client_id": got["client_id"]}
        new = await token(served, **refresh, refresh_token=got["refresh_token"])
        assert new.status_code == 200
        reuse = await token(served, **refresh, refresh_token=got["refresh_token"])
        assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"
        url = f"{served.base}/p/team/mcp"
        assert (await mcp_status(url, new.json()["access_token"])).status_code == 401
        later = await token(served, **refresh, refresh_token=new.json()["refresh_token"])
        assert later.status_code == 400
    finally:
        await browser.close()


async def test_a_token_works_only_on_its_own_portal_and_api_keys_still_work(
    served: ServedPortal,
) -> None:
    browser = await signed_in_browser(served, "ops@example.com")
    try:
        got = await tokens_for(served, browser)
    finally:
        await browser.close()
    access = got["access_token"]
    assert (await mcp_status(f"{served.base}/p/team/mcp", access)).status_code == 200
    for other in (f"{served.base}/p/other/mcp", f"{served.base}/mcp"):
        refused = await mcp_status(other, access)
        assert refused.status_code == 401, other
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        assert access not in refused.text and access not in refused.headers["www-authenticate"]
    # A refresh token of portal team is no refresh token at portal other's token endpoint.
    wrong = await token(
        served,
        "other",
        grant_type="refresh_token",
        client_id=got["client_id"],
        refresh_token=got["refresh_token"],
    )
    assert wrong.status_code == 400
    assert (await mcp_status(f"{served.base}/p/team/mcp", CI_KEY)).status_code == 200
    garbage = await mcp_status(f"{served.base}/p/team/mcp", "not-a-token")
    assert garbage.status_code == 401


async def test_deny_no_access_and_no_allowed_servers(served: ServedPortal) -> None:
    cid = await client_id(served)
    _, challenge = pkce()
    ana = await signed_in_browser(served)
    try:
        denied = query(await consent(ana, authorize_url(served, cid, challenge), "deny"))
        assert denied["error"] == "access_denied" and "code" not in denied
        assert denied["state"] == "st-1"
        empty = authorize_url(served, cid, challenge).replace("/p/team/", "/p/empty/")
        empty = empty.replace("%2Fp%2Fteam%2Fmcp", "%2Fp%2Fempty%2Fmcp")
        page = await ana.go("GET", empty, stop_at=REDIRECT)
        assert not isinstance(page, str)
        assert "No allowed servers available, check your policies" in page.text
    finally:
        await ana.close()
    bob = await signed_in_browser(served, "bob@elsewhere.org")
    try:
        page = await bob.go("GET", authorize_url(served, cid, challenge), stop_at=REDIRECT)
        assert not isinstance(page, str)
        assert page.status_code == 403 and NO_ACCESS in page.text
        back = form_link(page.text)
        assert back.startswith(REDIRECT) and query(back)["error"] == "access_denied"
    finally:
        await bob.close()


def form_link(html: str) -> str:
    import html as html_lib
    import re

    match = re.search(r'id="continue" href="([^"]*)"', html)
    assert match
    return html_lib.unescape(match.group(1))


async def test_consent_page_refuses_framing(served: ServedPortal) -> None:
    cid = await client_id(served)
    _, challenge = pkce()
    browser = await signed_in_browser(served)
    try:
        page = await browser.go("GET", authorize_url(served, cid, challenge), stop_at=REDIRECT)
        assert not isinstance(page, str) and 'id="allow"' in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert "Cursor" in page.text and "127.0.0.1:9" in page.text
        # Allow without the session's CSRF token is refused.
        forged = await browser.go(
            "POST",
            "/auth/consent",
            data={"request": form_value(page.text, "request"), "csrf": "x", "decision": "allow"},
            stop_at=REDIRECT,
        )
        assert not isinstance(forged, str) and forged.status_code == 403
    finally:
        await browser.close()


async def test_sign_out_needs_post_and_csrf_and_a_forged_cookie_is_nobody(
    served: ServedPortal,
) -> None:
    browser = await signed_in_browser(served)
    try:
        get = await browser.http.get(f"{served.base}/auth/logout")
        assert get.status_code == 405
        no_csrf = await browser.http.post(f"{served.base}/auth/logout", data={})
        assert no_csrf.status_code == 403
        home = await browser.go("GET", "/p/team/")
        assert not isinstance(home, str) and "ana@example.com" in home.text  # still signed in
    finally:
        await browser.close()
    async with httpx2.AsyncClient(cookies={"codemode_session": "eyJmb3JnZWQiOjF9.x.y"}) as http:
        home = await http.get(f"{served.base}/p/team/")
    assert 'id="sign-in"' in home.text and "Signed in as" not in home.text


async def test_registration_is_bounded(served: ServedPortal) -> None:
    async with httpx2.AsyncClient() as http:
        url = f"{served.base}/p/team/register"
        big = await http.post(
            url,
            content=b'{"redirect_uris": ["' + b"a" * MAX_REGISTRATION_BYTES + b'"]}',
            headers={"content-type": "application/json"},
        )
        assert big.status_code == 413
        bad = await http.post(
            url, content=b"{not json", headers={"content-type": "application/json"}
        )
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_client_metadata"
        js = await http.post(url, json={"redirect_uris": ["javascript:alert(1)"]})
        assert js.status_code == 400 and js.json()["error"] == "invalid_redirect_uri"
        statuses = [
            (await http.post(url, json={"redirect_uris": [REDIRECT]})).status_code
            for _ in range(REGISTRATIONS_PER_MINUTE + 1)
        ]
    assert statuses[-1] == 429


def test_dev_sign_in_is_refused_off_loopback() -> None:
    config = Config.from_dict({"identity": {"provider": "dev"}})
    assert dev_sign_in_refusal(config, "127.0.0.1") is None
    assert dev_sign_in_refusal(config, "::1") is None
    refusal = dev_sign_in_refusal(config, "0.0.0.0")
    assert refusal is not None and "loopback" in refusal
    assert dev_sign_in_refusal(Config.from_dict({}), "0.0.0.0") is None
