"""Steps of the identity flow done by hand (raw HTTP for the client, the browser for the
person), for tests that need to bend one of them: discovery, registration, the authorization
URL, the code exchange, and an MCP client holding a given access token."""

from __future__ import annotations

import itertools
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx2
import mcp_types as types
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.identity.conftest import Stack
from tests.identity.harness import brief, http, loopback_redirect_uri, pkce_pair, query_of

JSON_RPC = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "identity-tests", "version": "1"},
    },
}
_sources = itertools.count(10)


def next_source() -> str:
    """A loopback address of its own for the next registration (127.0.0.10, .11, ...)."""
    n = next(_sources)
    return f"127.0.{n // 250}.{n % 250 + 2}"


CODE = "?codemode=search_and_execute"


@dataclass
class Discovered:
    challenge: str  # the WWW-Authenticate header of the 401
    resource: dict[str, Any]  # RFC 9728 protected resource metadata
    server: dict[str, Any]  # RFC 8414 authorization server metadata


def discover(stack: Stack, portal_id: str) -> Discovered:
    with http() as client:
        answer = client.post(stack.portal.mcp_url(portal_id), json=LIST_TOOLS, headers=JSON_RPC)
        assert answer.status_code == 401, (answer.status_code, answer.text[:500])
        challenge = answer.headers.get("www-authenticate", "")
        found = re.search(r'resource_metadata="([^"]+)"', challenge)
        assert found, challenge
        resource = client.get(found.group(1)).json()
        issuer = resource["authorization_servers"][0].rstrip("/")
        # RFC 8414 §3: the well-known segment goes between the host and the issuer's path.
        origin, _, path = issuer.partition("://")[2].partition("/")
        scheme = issuer.partition("://")[0]
        suffix = f"/{path}" if path else ""
        server = client.get(
            f"{scheme}://{origin}/.well-known/oauth-authorization-server{suffix}"
        ).json()
    return Discovered(challenge, resource, server)


def register(
    found: Discovered, redirect_uri: str, name: str = "idp-e2e raw", **extra: Any
) -> dict[str, Any]:
    body = {
        "client_name": name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        **extra,
    }
    with http(next_source()) as client:
        answer = client.post(found.server["registration_endpoint"], json=body)
    assert answer.status_code == 201, answer.text[:500]
    registered: dict[str, Any] = answer.json()
    return registered


@dataclass
class Authorization:
    """One person's pass through /authorize: what the browser saw and what the client got."""

    found: Discovered
    client_id: str
    client_secret: str | None
    redirect_uri: str
    verifier: str
    state: str
    report: dict[str, Any]

    @property
    def params(self) -> dict[str, str]:
        callback = self.report.get("callback")
        assert callback, f"the client's redirect URI was never reached: {brief(self.report)}"
        return query_of(callback)

    @property
    def code(self) -> str:
        params = self.params
        assert "code" in params, f"no code: {params} {brief(self.report)}"
        assert params.get("state") == self.state, params
        return params["code"]

    def exchange(self, **override: str) -> httpx2.Response:
        data = {
            "grant_type": "authorization_code",
            "code": self.code,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "code_verifier": self.verifier,
            "resource": self.found.resource["resource"],
            **({"client_secret": self.client_secret} if self.client_secret else {}),
            **override,
        }
        with http() as client:
            return client.post(self.found.server["token_endpoint"], data=data)

    def tokens(self) -> dict[str, Any]:
        answer = self.exchange()
        assert answer.status_code == 200, answer.text[:500]
        tokens: dict[str, Any] = answer.json()
        return tokens


def authorization_url(
    found: Discovered, client_id: str, redirect_uri: str, state: str, **params: str | None
) -> str:
    query: dict[str, str | None] = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": state,
        "resource": found.resource["resource"],
        **params,
    }
    query = {k: v for k, v in query.items() if v is not None}
    return f"{found.server['authorization_endpoint']}?{urlencode(query)}"


def authorize(
    stack: Stack,
    account: str,
    portal_id: str = "team",
    *,
    consent: str = "allow",
    fresh: bool = True,
    redirect_uri: str | None = None,
    registered_uri: str | None = None,
    tamper: dict[str, str] | None = None,
    **params: str,
) -> Authorization:
    """Register a client, send the person through /authorize (signing in at the IdP unless
    their browser session is still there) and answer the portal's consent page."""
    found = discover(stack, portal_id)
    registered_uri = registered_uri or loopback_redirect_uri()
    redirect_uri = redirect_uri or registered_uri
    registered = register(found, registered_uri)
    client_id = registered["client_id"]
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    pkce = {"code_challenge": challenge, "code_challenge_method": "S256"}
    url = authorization_url(found, client_id, redirect_uri, state, **{**pkce, **params})
    if fresh:
        stack.browser.forget(account)
    report = stack.browser.run(
        url=url,
        idp=stack.idp.issuer,
        portal=stack.portal.origin,
        account=account,
        consent=consent,
        stopAt=redirect_uri,
        state=stack.browser.state_file(account),
        tamper=tamper,
    )
    secret = registered.get("client_secret")
    return Authorization(found, client_id, secret, redirect_uri, verifier, state, report)


def refresh(
    found: Discovered, client_id: str, refresh_token: str, client_secret: str | None = None
) -> httpx2.Response:
    data = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": client_id,
        "resource": found.resource["resource"],
    }
    if client_secret:
        data["client_secret"] = client_secret
    with http() as client:
        return client.post(found.server["token_endpoint"], data=data)


def mcp_post(url: str, token: str | None, body: dict[str, Any] | None = None) -> httpx2.Response:
    headers = dict(JSON_RPC)
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    with http() as client:
        return client.post(url, json=body or INITIALIZE, headers=headers)


@asynccontextmanager
async def connected(url: str, token: str) -> AsyncIterator[Client]:
    client_http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    async with Client(streamable_http_client(url, http_client=client_http), mode="auto") as client:
        yield client


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def tool_names(url: str, token: str) -> set[str]:
    async with connected(url, token) as client:
        return {t.name for t in (await client.list_tools()).tools}


async def run_code(url: str, token: str, code: str) -> tuple[bool, str]:
    async with connected(url, token) as client:
        result = await client.call_tool("code", {"code": code})
        return bool(result.is_error), text_of(result)


def page_texts(report: dict[str, Any]) -> str:
    return "\n".join(p["text"] for p in report.get("pages", []))
