"""The real parts of the upstream-OAuth tests: an authorization server (`as.mjs`, npm
`oidc-provider`) and the MCP server it protects (`protected.py`), each a subprocess on
127.0.0.1 (started and stopped with the identity tests' `Process`), and broken servers
(`broken.py`)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult

from engine.store import Store
from engine.upstream_oauth import OAuthClientSettings, headless_authorize, make_provider
from tests.identity.harness import Process, node
from tests.upstreams.harness import free_port

HERE = Path(__file__).resolve().parent
PERSON_REDIRECT = "http://127.0.0.1:9/callback"
"""The redirect URI of `connect_person`'s flow (never requested: the flow stops there)."""
AS_SCRIPT = HERE / "as.mjs"


@dataclass
class Protected:
    """An authorization server and the MCP server whose tokens it issues."""

    issuer: str
    url: str
    seen: Path
    """One line per request the MCP server answered: the subject of the token it carried."""
    auth_server: Process
    server: Process


@contextmanager
def protected_upstream(
    logs: Path,
    *,
    ttl_s: int = 60,
    account: str = "alice",
    static_client: tuple[str, str, str] | None = None,
) -> Iterator[Protected]:
    """`static_client`: (id, secret, redirect URI) of a confidential client the AS knows
    beforehand (it authenticates with HTTP Basic), beside dynamic registration."""
    as_port, rs_port = free_port(), free_port()
    issuer, url = f"http://127.0.0.1:{as_port}", f"http://127.0.0.1:{rs_port}/mcp"
    env = {
        **os.environ,
        "AS_PORT": str(as_port),
        "AS_RESOURCE": url,
        "AS_TOKEN_TTL_S": str(ttl_s),
        "AS_ACCOUNT": account,
    }
    if static_client is not None:
        client_id, secret, redirect_uri = static_client
        env |= {
            "AS_CLIENT_ID": client_id,
            "AS_CLIENT_SECRET": secret,
            "AS_REDIRECT_URIS": redirect_uri,
        }
    auth_server = Process("as", [node(), str(AS_SCRIPT)], env, logs, ready="ready ")
    seen = logs / "seen.txt"
    argv = [sys.executable, "-m", "tests.upstream_oauth.protected", "--port", str(rs_port)]
    argv += ["--issuer", issuer, "--seen", str(seen)]
    server = Process("protected", argv, dict(os.environ), logs, ready="ready ")
    auth_server.start()
    try:
        server.start()
        try:
            yield Protected(issuer, url, seen, auth_server, server)
        finally:
            server.stop()
    finally:
        auth_server.stop()


async def connect_person(store: Store, up: Protected, person_id: int, account: str) -> None:
    """The SDK's flow for `account`, its tokens stored in the person's row."""
    http = httpx2.AsyncClient(timeout=30)
    found: list[str] = []

    async def redirect(url: str) -> None:
        found.append(url + f"&login_hint={account}")

    async def callback() -> AuthorizationCodeResult:
        return await headless_authorize(http, found[-1], PERSON_REDIRECT)

    storage = store.upstream_tokens.storage("prot", person_id)
    auth = make_provider(
        up.url, PERSON_REDIRECT, OAuthClientSettings(), storage, redirect, callback
    )
    async with (
        http,
        httpx2.AsyncClient(auth=auth, timeout=30) as authed,
        Client(streamable_http_client(up.url, http_client=authed)) as client,
    ):
        await client.list_tools()


@contextmanager
def broken_server(logs: Path, mode: str, issuer: str = "") -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "tests.upstream_oauth.broken", "--port", str(port)]
    argv += ["--mode", mode] + (["--issuer", issuer] if issuer else [])
    process = Process(f"broken-{mode}", argv, dict(os.environ), logs, ready="ready ")
    process.start()
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.stop()
