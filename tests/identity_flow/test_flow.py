"""The whole flow over real HTTP with the `dev` provider: the `mcp` SDK's OAuthClientProvider
(401, RFC 9728 + RFC 8414 discovery, dynamic registration, PKCE S256, resource indicator)
against a running portal, its browser steps done by `Browser` (the dev sign-in form, the
consent page's Allow with its CSRF token); then tools/list and a `code` run with the token,
a refresh, and sign-out in the browser, after which the client's token is refused and its
refresh fails."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp.client.auth import OAuthClientProvider
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import (
    AuthorizationCodeResult,
    OAuthClientMetadata,
    OAuthToken,
)

from engine.upstream_oauth import MemoryTokenStorage
from tests.identity_flow.conftest import Browser, form_value, query
from tests.server.conftest import ServedPortal

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:The logging capability is deprecated"),
]

REDIRECT = "http://127.0.0.1:9/callback"  # never fetched: the browser stops there


def oauth(
    url: str, browser: Browser, email: str, storage: MemoryTokenStorage, name: str = "Claude Code"
) -> OAuthClientProvider:
    landed: dict[str, str] = {}

    async def redirect_handler(authorization_url: str) -> None:
        page = await browser.go("GET", authorization_url, stop_at=REDIRECT)
        if not isinstance(page, str) and "/auth/dev" in str(page.url):
            page = await browser.sign_in(page, email)
        assert not isinstance(page, str), page
        assert 'id="allow"' in page.text, page.text[:500]
        done = await browser.go(
            "POST",
            "/auth/consent",
            data={
                "request": form_value(page.text, "request"),
                "csrf": form_value(page.text, "csrf"),
                "decision": "allow",
            },
            stop_at=REDIRECT,
        )
        assert isinstance(done, str), done
        landed["url"] = done

    async def callback_handler() -> AuthorizationCodeResult:
        q = query(landed.pop("url"))
        return AuthorizationCodeResult(code=q["code"], state=q.get("state"), iss=q.get("iss"))

    return OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            redirect_uris=[REDIRECT],  # type: ignore[list-item]
            client_name=name,
            grant_types=["authorization_code", "refresh_token"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=storage,
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )


@asynccontextmanager
async def connect(url: str, auth: OAuthClientProvider) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(auth=auth, timeout=30, follow_redirects=True)
    async with http, Client(streamable_http_client(url, http_client=http), mode="auto") as client:
        yield client


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def mcp_status(url: str, token: str | None) -> httpx2.Response:
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2025-11-25",
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body: dict[str, Any] = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "identity-test", "version": "1"},
        },
    }
    async with httpx2.AsyncClient() as http:
        return await http.post(url, json=body, headers=headers)


async def test_sign_in_consent_tools_refresh_and_sign_out(served: ServedPortal) -> None:
    url = f"{served.base}/p/team/mcp"
    browser = Browser(served.base)
    storage = MemoryTokenStorage()
    try:
        auth = oauth(f"{url}?codemode=search_and_execute", browser, "ana@example.com", storage)
        async with connect(f"{url}?codemode=search_and_execute", auth) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            ran = await client.call_tool(
                "code", {"code": "return await codemode.time_get_current_time({timezone: 'UTC'})"}
            )
        assert names == {"code"}
        assert not ran.is_error, text_of(ran)
        assert "UTC" in text_of(ran)
        assert storage.tokens is not None and storage.tokens.refresh_token
        first = storage.tokens

        # The token names ana: the request log has her email as the user.
        assert served.gateway is not None
        entries = served.gateway.request_log.query(limit=5)
        assert entries and entries[0].user == "ana@example.com"

        # Refresh: a new pair; the old refresh token is consumed.
        async with httpx2.AsyncClient() as http:
            refreshed = await http.post(
                f"{served.base}/p/team/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": first.refresh_token or "",
                    "client_id": storage.client_info.client_id if storage.client_info else "",
                },
            )
        assert refreshed.status_code == 200, refreshed.text
        second = OAuthToken.model_validate(refreshed.json())
        assert second.access_token != first.access_token
        assert second.refresh_token != first.refresh_token
        assert (await mcp_status(url, second.access_token)).status_code == 200

        # The homepage, signed in: email, sign-out form, the connected client.
        home = await browser.go("GET", "/p/team/")
        assert not isinstance(home, str)
        assert "ana@example.com" in home.text and 'id="sign-out"' in home.text
        assert "Claude Code" in home.text
        assert second.access_token not in home.text
        assert (second.refresh_token or "-") not in home.text

        # Sign out: POST with the CSRF token; the summary page says what was revoked.
        out = await browser.go("POST", "/auth/logout", data={"csrf": form_value(home.text, "csrf")})
        assert not isinstance(out, str)
        assert str(out.url).endswith("/signed-out")
        assert (
            "Signed out ana@example.com — revoked 1 client session (Claude Code), "
            "removed 0 server connections." in out.text
        )

        # The client's token is refused at once; its refresh fails.
        refused = await mcp_status(url, second.access_token)
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        assert "resource_metadata=" in refused.headers["www-authenticate"]
        async with httpx2.AsyncClient() as http:
            again = await http.post(
                f"{served.base}/p/team/token",
                data={
                    "grant_type": "refresh_token",
                    "refresh_token": second.refresh_token or "",
                    "client_id": storage.client_info.client_id if storage.client_info else "",
                },
            )
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    finally:
        await browser.close()
