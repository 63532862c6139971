"""The harness itself, against the real IdP and browser (no product identity routes needed):
the provider behaves as the identity tests assume (claims only from userinfo, PKCE demanded,
a logout confirmation form), the person in the browser signs in there, and nothing leaves
loopback."""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import urlencode

from tests.identity.conftest import Stack
from tests.identity.harness import CLIENT_ID, brief, http, pkce_pair, query_of


def idp_sign_in(stack: Stack, account: str, **params: str) -> tuple[dict[str, Any], str]:
    """The browser signs in at the IdP as the portal's client would send it; the portal's
    callback is answered by the browser itself (the portal is not involved)."""
    verifier, challenge = pkce_pair()
    callback = f"{stack.portal.origin}/auth/callback"
    query = {
        "client_id": CLIENT_ID,
        "response_type": "code",
        "redirect_uri": callback,
        "scope": "openid email profile groups",
        "state": "harness-state",
        "nonce": "harness-nonce",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **params,
    }
    report = stack.browser.run(
        url=f"{stack.idp.issuer}/auth?{urlencode(query)}",
        idp=stack.idp.issuer,
        account=account,
        stopAt=callback,
    )
    return report, verifier


def claims_of(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


def test_the_idp_signs_a_person_in_and_serves_claims_from_userinfo(stack: Stack) -> None:
    report, verifier = idp_sign_in(stack, "ana@example.com")
    assert report["callback"], brief(report)
    params = query_of(report["callback"])
    assert params["state"] == "harness-state" and params["iss"] == stack.idp.issuer
    with http() as client:
        tokens = client.post(
            f"{stack.idp.issuer}/token",
            auth=(CLIENT_ID, stack.idp.secret),
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": f"{stack.portal.origin}/auth/callback",
                "code_verifier": verifier,
            },
        ).json()
        id_token = claims_of(tokens["id_token"])
        userinfo = client.get(
            f"{stack.idp.issuer}/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).json()
    # As DESIGN.md says: only `sub` (and nonce) in the ID token; email and groups from userinfo.
    assert id_token["sub"] == "ana@example.com" and id_token["nonce"] == "harness-nonce"
    assert "email" not in id_token and "groups" not in id_token
    assert userinfo["email"] == "ana@example.com" and userinfo["groups"] == ["engineering"]
    # The provider's pages @import web fonts: the browser refused to fetch them.
    assert report["blocked"] and all("127.0.0.1" not in o for o in report["blocked"])


def test_a_bare_account_name_gets_an_example_com_email_and_no_groups(stack: Stack) -> None:
    report, verifier = idp_sign_in(stack, "bob", scope="openid email")
    code = query_of(report["callback"])["code"]
    with http() as client:
        tokens = client.post(
            f"{stack.idp.issuer}/token",
            auth=(CLIENT_ID, stack.idp.secret),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": f"{stack.portal.origin}/auth/callback",
                "code_verifier": verifier,
            },
        ).json()
        userinfo = client.get(
            f"{stack.idp.issuer}/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        ).json()
    # Without the groups scope there is no groups claim at all.
    assert userinfo == {"sub": "bob", "email": "bob@example.com", "email_verified": True}


def test_the_idp_demands_pkce_of_the_portal(stack: Stack) -> None:
    report, _ = idp_sign_in(stack, "ana@example.com", code_challenge="", code_challenge_method="")
    # It answers the redirect URI with an error, without showing a login page.
    assert report["callback"], brief(report)
    assert query_of(report["callback"])["error"] == "invalid_request"
    assert "PKCE" in query_of(report["callback"])["error_description"]


def test_the_idp_discovery_offers_what_the_portal_needs(stack: Stack) -> None:
    with http() as client:
        meta = client.get(f"{stack.idp.issuer}/.well-known/openid-configuration").json()
    assert meta["issuer"] == stack.idp.issuer
    assert meta["end_session_endpoint"] == f"{stack.idp.issuer}/session/end"
    assert {"email", "groups"} <= set(meta["scopes_supported"])
    assert meta["code_challenge_methods_supported"] == ["S256"]


def test_the_portal_serves_the_identity_config(stack: Stack) -> None:
    assert stack.portal.portals == ("team", "eng")
    with http() as client:
        home = client.get(stack.portal.origin + "/p/team/")
    assert home.status_code in (200, 302, 303, 401, 403), home.text[:500]
    # Anonymous callers get no tools anywhere with [identity] on.
    with http() as client:
        answer = client.post(
            stack.portal.mcp_url("team"),
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Accept": "application/json, text/event-stream"},
        )
    assert "time_get_current_time" not in answer.text
