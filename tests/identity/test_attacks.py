"""Bad input and attacks on the portal's authorization server and browser pages, each with its
clear refusal, against the real IdP and browser. The last test looks for every token, code and
secret these tests handled in the portal's logs and request log."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.identity.conftest import Stack
from tests.identity.flows import (
    authorization_url,
    authorize,
    discover,
    mcp_post,
    next_source,
    refresh,
    register,
)
from tests.identity.harness import brief, http, iter_logs, loopback_redirect_uri, pkce_pair

FLOOD_SOURCE = "127.0.0.2"  # its own address: the bound is per client address
HANDLED: list[str] = []  # every token, code and secret these tests saw, for the log check


def keep(*values: str) -> None:
    HANDLED.extend(v for v in values if v)


def raw_authorize(stack: Stack, **params: str | None) -> tuple[Any, str]:
    """GET /authorize without a browser: (the response, the registered redirect URI)."""
    found = discover(stack, "team")
    redirect_uri = loopback_redirect_uri()
    client_id = register(found, redirect_uri)["client_id"]  # from an address of its own
    target = params.pop("redirect_uri", None) or redirect_uri
    state = "s-" + secrets.token_hex(4)
    url = authorization_url(found, client_id, target, state, **params)
    with http() as client:
        return client.get(url), redirect_uri


@pytest.mark.parametrize(
    "pkce",
    [
        {"code_challenge": None, "code_challenge_method": None},
        {"code_challenge": "a" * 43, "code_challenge_method": "plain"},
        {"code_challenge": pkce_pair()[1], "code_challenge_method": None},
    ],
    ids=["missing", "plain", "method-missing"],
)
def test_authorize_without_s256_pkce_is_refused(flow: Stack, pkce: dict[str, str | None]) -> None:
    answer, redirect_uri = raw_authorize(flow, **pkce)
    location = answer.headers.get("location", "")
    # Refused before anyone signs in: an error to the client, never the IdP or a code.
    assert not location.startswith(flow.idp.issuer), location
    assert "code=" not in location
    if location.startswith(redirect_uri):
        assert "error=invalid_request" in location, location
    else:
        assert answer.status_code == 400, (answer.status_code, location, answer.text[:300])


def test_redirect_uri_not_registered_is_never_redirected_to(flow: Stack) -> None:
    for evil in ("http://127.0.0.1:9/steal", "https://evil.example/callback"):
        answer, _ = raw_authorize(
            flow,
            redirect_uri=evil,
            code_challenge=pkce_pair()[1],
            code_challenge_method="S256",
        )
        assert answer.status_code == 400, (answer.status_code, answer.headers.get("location"))
        assert not answer.headers.get("location")
        assert "redirect" in answer.text.lower()


def test_wrong_code_verifier_is_refused(flow: Stack) -> None:
    done = authorize(flow, "ana@example.com")
    keep(done.code)
    wrong = done.exchange(code_verifier=pkce_pair()[0])
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant", wrong.text
    assert done.code not in wrong.text


def test_code_replay_fails_and_revokes_what_the_code_gave(flow: Stack) -> None:
    done = authorize(flow, "ana@example.com")
    tokens = done.tokens()
    keep(done.code, tokens["access_token"], tokens.get("refresh_token", ""))
    url = flow.portal.mcp_url("team")
    assert mcp_post(url, tokens["access_token"]).status_code == 200
    again = done.exchange()
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant", again.text
    assert mcp_post(url, tokens["access_token"]).status_code == 401
    assert (
        refresh(done.found, done.client_id, tokens["refresh_token"], done.client_secret).status_code
        == 400
    )


def test_refresh_token_reuse_revokes_the_grant(flow: Stack) -> None:
    done = authorize(flow, "ana@example.com")
    first = done.tokens()
    rotated = refresh(done.found, done.client_id, first["refresh_token"], done.client_secret)
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    keep(first["refresh_token"], second["refresh_token"], second["access_token"])
    assert second["refresh_token"] != first["refresh_token"]
    reused = refresh(done.found, done.client_id, first["refresh_token"], done.client_secret)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant", reused.text
    # The whole grant is gone: the newer refresh token and access token too.
    assert (
        refresh(done.found, done.client_id, second["refresh_token"], done.client_secret).status_code
        == 400
    )
    assert mcp_post(flow.portal.mcp_url("team"), second["access_token"]).status_code == 401


def test_a_token_for_one_portal_is_refused_by_another(flow: Stack) -> None:
    # ana may use both portals; the token was issued for team's resource only.
    token = authorize(flow, "ana@example.com", "team").tokens()["access_token"]
    keep(token)
    assert mcp_post(flow.portal.mcp_url("team"), token).status_code == 200
    other = mcp_post(flow.portal.mcp_url("eng"), token)
    assert other.status_code == 401, other.text[:300]
    assert "resource_metadata=" in other.headers.get("www-authenticate", "")


def test_a_made_up_token_gets_401_with_a_challenge(flow: Stack) -> None:
    token = "made-up-" + secrets.token_urlsafe(24)
    answer = mcp_post(flow.portal.mcp_url("team"), token)
    assert answer.status_code == 401
    assert 'resource_metadata="' in answer.headers.get("www-authenticate", "")
    assert token not in answer.text


def test_a_token_revoked_by_its_public_client_gets_401(flow: Stack) -> None:
    """RFC 7009 §2.1: a public client (token_endpoint_auth_method "none") revokes with its
    client_id alone."""
    done = authorize(flow, "ana@example.com")
    tokens = done.tokens()
    keep(tokens["access_token"])
    url = flow.portal.mcp_url("team")
    with http() as client:
        revoked = client.post(
            done.found.server["revocation_endpoint"],
            data={
                "token": tokens["access_token"],
                "client_id": done.client_id,
                **({"client_secret": done.client_secret} if done.client_secret else {}),
            },
        )
    assert revoked.status_code == 200, revoked.text
    answer = mcp_post(url, tokens["access_token"])
    assert answer.status_code == 401
    assert 'resource_metadata="' in answer.headers.get("www-authenticate", "")


def test_state_mismatch_from_the_idp_is_refused(flow: Stack) -> None:
    done = authorize(
        flow,
        "ana@example.com",
        tamper={"param": "state", "value": "forged-" + secrets.token_hex(8)},
    )
    assert done.report.get("tampered"), brief(done.report)
    # The portal refused its callback: no consent page, nothing to the client, no session.
    assert not done.report.get("consentPage"), brief(done.report)
    assert not done.report.get("callback"), brief(done.report)
    callback_page = next(p for p in done.report["pages"] if "/auth/callback" in p["url"])
    assert callback_page["status"] in (400, 403), brief(done.report)
    home = flow.browser.run(
        mode="page",
        url=flow.portal.origin + "/p/team/",
        state=flow.browser.state_file("ana@example.com"),
    )
    assert "ana@example.com" not in home["pages"][0]["text"]


def test_a_forged_code_from_the_idp_is_refused(flow: Stack) -> None:
    done = authorize(flow, "ana@example.com", tamper={"param": "code", "value": "forged"})
    assert not done.report.get("consentPage") and not done.report.get("callback"), brief(
        done.report
    )


def signed_in_cookies(stack: Stack, account: str) -> dict[str, str]:
    """The portal's cookies of a person who just signed in through the browser."""
    authorize(stack, account)
    state = json.loads(Path(stack.browser.state_file(account)).read_text())
    return {
        c["name"]: c["value"]
        for c in state["cookies"]
        if c["domain"] in ("127.0.0.1", ".127.0.0.1") and not c["name"].startswith("_")
    }


def sign_out_form(html: str) -> tuple[str, dict[str, str]]:
    form = re.search(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", html, re.S | re.I)
    assert form and "sign out" in form.group(2).lower(), html[:2000]
    fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form.group(2)))
    return form.group(1), fields


def test_sign_out_needs_a_post_with_the_csrf_token(flow: Stack) -> None:
    account = "bob@example.com"
    cookies = signed_in_cookies(flow, account)
    home_url = flow.portal.origin + "/p/team/"
    with http() as client:
        client.cookies.update(cookies)
        home = client.get(home_url)
        assert account in home.text, home.text[:1000]
        action, fields = sign_out_form(home.text)
        target = action if action.startswith("http") else flow.portal.origin + action
        by_get = client.get(target)
        without_csrf = client.post(target, data={})
        wrong_csrf = client.post(target, data={k: "forged" for k in fields})
        assert by_get.status_code in (403, 404, 405), by_get.status_code
        assert without_csrf.status_code in (400, 403), without_csrf.status_code
        assert wrong_csrf.status_code in (400, 403), wrong_csrf.status_code
        # Still signed in after all three.
        assert account in client.get(home_url).text


def test_a_tampered_session_cookie_signs_nobody_in(flow: Stack) -> None:
    cookies = signed_in_cookies(flow, "ana@example.com")
    assert cookies
    home_url = flow.portal.origin + "/p/team/"
    for name, value in cookies.items():
        for forged in (value[:-4] + "AAAA", "x" + value, "e30.forged.sig"):
            with http() as client:
                client.cookies.set(name, forged)
                page = client.get(home_url)
            assert page.status_code < 500
            assert "ana@example.com" not in page.text


def test_the_consent_page_refuses_to_be_framed(flow: Stack) -> None:
    done = authorize(flow, "ana@example.com", consent="stop")
    consent = done.report.get("consentPage")
    assert consent, brief(done.report)
    csp = consent["csp"] or ""
    assert re.search(r"frame-ancestors\s+('none'|'self')", csp), (csp, consent["xfo"])
    framed = flow.browser.run(
        mode="frame", url=consent["url"], state=flow.browser.state_file("ana@example.com")
    )
    frame = framed["frame"]
    assert frame["url"] is not None
    assert not frame["text"] or "Allow" not in frame["text"], framed


def test_oversized_and_malformed_registrations_get_400(flow: Stack) -> None:
    endpoint = discover(flow, "team").server["registration_endpoint"]
    big = {
        "client_name": "x" * 2_000_000,
        "redirect_uris": [loopback_redirect_uri()],
        "token_endpoint_auth_method": "none",
    }
    with http(next_source()) as client:
        oversized = client.post(endpoint, json=big)
        malformed = client.post(
            endpoint, content=b"{not json", headers={"Content-Type": "application/json"}
        )
        no_redirect = client.post(endpoint, json={"client_name": "x"})
    assert oversized.status_code in (400, 413), oversized.status_code  # 413: bounded read
    assert len(oversized.content) < 10_000
    assert malformed.status_code == 400, malformed.text[:300]
    assert no_redirect.status_code == 400, no_redirect.text[:300]


def test_a_registration_flood_is_bounded(flow: Stack) -> None:
    endpoint = discover(flow, "team").server["registration_endpoint"]
    body = {"redirect_uris": [loopback_redirect_uri()], "token_endpoint_auth_method": "none"}
    codes = []
    with http(FLOOD_SOURCE) as client:
        for _ in range(200):
            codes.append(client.post(endpoint, json=body).status_code)
            if codes[-1] == 429:
                break
    assert codes[-1] == 429, f"200 registrations from one address were all accepted: {codes[:5]}"


def test_no_token_code_or_secret_reaches_the_logs(flow: Stack) -> None:
    assert HANDLED, "the tests above handled no token"
    secrets_seen = [*HANDLED, flow.idp.secret]
    leaks = [
        (path.name, value[:8] + "...")
        for path, text in iter_logs(flow.logs)
        if path.name != "idp.out"
        for value in secrets_seen
        if value in text
    ]
    assert not leaks, leaks
