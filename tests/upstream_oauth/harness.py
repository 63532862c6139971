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


def person_portal_toml(
    logs: Path,
    upstream_url: str,
    *,
    database_url: str | None = None,
    include: str = "",
    server: str = "",
    portal: str = "",
    settings: str = "",
) -> str:
    """A portal with dev sign-in, a `staff` policy (people of example.com, and the `include`
    entries), and the OAuth upstream `prot` at `upstream_url`, acting for each person
    (`on_behalf`) in portal `main`. `server`, `portal` and `settings` are extra TOML lines
    for those tables; the store is SQLite in `logs` unless `database_url` says otherwise."""
    database_url = database_url or f"sqlite+aiosqlite:///{logs}/codemode.db"
    included = ", ".join(['{ email_domain = "example.com" }', *filter(None, [include])])
    return f"""
[settings]
database_url = "{database_url}"
request_log_path = "{logs}/requests.db"
{settings}

[identity]
provider = "dev"

[[policies]]
id = "staff"
decision = "allow"
include = [{included}]

[[servers]]
id = "prot"
url = "{upstream_url}"
auth_type = "oauth"
policies = ["staff"]
{server}

[[portals]]
id = "main"
policies = ["staff"]
servers = [{{ server_id = "prot", on_behalf = true }}]
{portal}
"""


def admin_authorizes(origin: str, admin_token: str, server_id: str = "prot") -> str:
    """The admin authorizes the server's admin credential through the admin API (the test
    authorization server approves at once); the authorization URL it was sent to."""
    headers = {"Authorization": f"Bearer {admin_token}"}
    base = f"{origin}/oauth/upstream/{server_id}"
    started = httpx2.post(f"{base}/authorize", headers=headers, timeout=60).json()
    url = str(started["result"]["authorization_url"])
    page = httpx2.get(url, follow_redirects=True, timeout=60)
    assert "is connected" in page.text, page.text
    return url
