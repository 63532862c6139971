"""An MCP client connecting to a portal with `[identity] provider = "dev"`, by hand over HTTP:
register (RFC 7591), `/authorize` with PKCE S256 and the resource, the dev sign-in form, Allow
on the consent page, the code exchanged at `/token`. For scripts and benchmarks that need a
real portal access token without a browser (`scripts/signin_screenshots.py`,
`benchmarks/latency.py`); imports nothing from pytest.

    tokens = await connect_client("http://127.0.0.1:8787", "ana@example.com")
    tokens = await connect_client(base, "ana@example.com", portal="/p/team", groups="eng")
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx2

REDIRECT_URI = "http://127.0.0.1:9/callback"
"""The client's redirect URI: never fetched, the flow stops when sent there."""


class DevFlowError(RuntimeError):
    """A step of the flow did not answer as a portal with the dev sign-in does."""


@dataclass(frozen=True)
class ClientTokens:
    client_id: str
    access_token: str
    refresh_token: str | None
    resource: str


def _field(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    if match is None:
        raise DevFlowError(f"no {name!r} field in the page: {html[:300]!r}")
    return match.group(1)


async def _follow(http: httpx2.AsyncClient, response: httpx2.Response) -> httpx2.Response | str:
    """Follow redirects to a page, or stop with the URL when sent to the client's redirect."""
    for _ in range(10):
        if response.status_code not in (301, 302, 303, 307):
            return response
        location = urljoin(str(response.url), response.headers["location"])
        if location.startswith(REDIRECT_URI):
            return location
        response = await http.get(location)
    raise DevFlowError("too many redirects")


async def connect_client(
    origin: str,
    email: str,
    *,
    portal: str = "",
    groups: str = "",
    client_name: str = "Claude Code",
) -> ClientTokens:
    """Register `client_name` at the portal at `origin` + `portal` (`""` for `/mcp`, or
    `"/p/<id>"`), sign in as `email` (with `groups`, a comma list) and allow it: its tokens."""
    issuer = origin.rstrip("/") + portal
    resource = f"{issuer}/mcp"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    async with httpx2.AsyncClient(follow_redirects=False, timeout=30) as http:
        registered = await http.post(
            f"{issuer}/register",
            json={
                "client_name": client_name,
                "redirect_uris": [REDIRECT_URI],
                "grant_types": ["authorization_code", "refresh_token"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "none",
            },
        )
        if registered.status_code != 201:
            raise DevFlowError(f"register: {registered.status_code} {registered.text[:300]}")
        client_id: str = registered.json()["client_id"]
        state = secrets.token_urlsafe(16)
        query = {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": REDIRECT_URI,
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
            "state": state,
            "resource": resource,
        }
        page = await _follow(http, await http.get(f"{issuer}/authorize?{urlencode(query)}"))
        if isinstance(page, str) or "/auth/dev" not in str(page.url):
            raise DevFlowError(f"expected the dev sign-in page, got {page!r:.300}")
        form = {
            "email": email,
            "groups": groups,
            "next": _field(page.text, "next"),
            "csrf": _field(page.text, "csrf"),
        }
        page = await _follow(http, await http.post(urljoin(origin, "/auth/dev"), data=form))
        if isinstance(page, str) or 'id="allow"' not in page.text:
            raise DevFlowError(f"expected the consent page, got {page!r:.300}")
        decision = {
            "request": _field(page.text, "request"),
            "csrf": _field(page.text, "csrf"),
            "decision": "allow",
        }
        landed = await _follow(
            http, await http.post(urljoin(origin, "/auth/consent"), data=decision)
        )
        if not isinstance(landed, str) and 'id="finish"' in landed.text:
            # The sign-in's last step lists servers to connect: leave them, press Done.
            done = {"signin": _field(landed.text, "signin"), "csrf": _field(landed.text, "csrf")}
            finish = urljoin(origin, "/auth/consent/finish")
            landed = await _follow(http, await http.post(finish, data=done))
        if not isinstance(landed, str):
            raise DevFlowError(f"Allow did not redirect to the client: {landed.text[:300]!r}")
        params = {k: v[0] for k, v in parse_qs(urlsplit(landed).query).items()}
        if params.get("state") != state or "code" not in params:
            raise DevFlowError(f"bad redirect to the client: {sorted(params)}")
        exchanged = await http.post(
            f"{issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
                "client_id": client_id,
                "resource": resource,
            },
        )
        if exchanged.status_code != 200:
            raise DevFlowError(f"token: {exchanged.status_code} {exchanged.text[:300]}")
        body: dict[str, Any] = exchanged.json()
    return ClientTokens(client_id, body["access_token"], body.get("refresh_token"), resource)
