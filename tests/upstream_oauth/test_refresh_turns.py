"""Two providers of one stored credential (as when a reconnect opens a session beside the one
it replaces) refresh it in turns and adopt each other's refreshed tokens: sending one refresh
token twice is a replay, which the authorization server (oidc-provider, rotating refresh
tokens of public clients) answers by revoking the whole grant. Real parts: the test MCP server
behind its real authorization server, 2 s access tokens, tokens in a real store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from engine.config import Config
from engine.headless_oauth import HeadlessOAuth
from engine.store import open_store
from tests.identity.harness import missing_tools
from tests.upstream_oauth.harness import Protected, connect_person, protected_upstream

TTL_S = 4
"""Not 2: the authorization server counts a token's expiry from the whole second it was
issued in, so a 2 s token may live only a little over 1 s after it arrives, while we hold it
valid until half its lifetime has passed; under load a call then went out with a token the
server had just seen lapse (a 401, not a refresh), failing the run once in a few."""
ROUNDS = 3
"""Token lifetimes crossed (bounded loop)."""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Protected]:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    with protected_upstream(tmp_path_factory.mktemp("refresh-turns"), ttl_s=TTL_S) as protected:
        yield protected


def _text(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def _scenario(directory: Path, up: Protected, replicas: bool) -> list[str]:
    url = f"sqlite+aiosqlite:///{directory}/db"
    settings = Config.from_dict({"settings": {"database_url": url}}, base_dir=directory).settings
    seen: list[str] = []
    async with open_store(settings) as store:
        ana = await store.people.sign_in("test", "ana", email="ana@example.com")
        await connect_person(store, up, ana.id, "ana")
        async with AsyncExitStack() as stack:
            clients = []
            for replica in range(2):
                storage = store.upstream_tokens.storage("prot", ana.id)
                # As replicas, the providers share the store but no lock in memory.
                key = ("prot", ana.id, replica) if replicas else ("prot", ana.id)
                auth = HeadlessOAuth(up.url, "prot", storage, key)
                http = await stack.enter_async_context(httpx2.AsyncClient(auth=auth, timeout=30))
                transport = streamable_http_client(up.url, http_client=http)
                clients.append(await stack.enter_async_context(Client(transport)))
            for _ in range(ROUNDS):
                await anyio.sleep(TTL_S + 0.2)  # both providers' tokens have expired
                async with anyio.create_task_group() as tg:
                    for client in clients:

                        async def call(c: Client = client) -> None:
                            result = await c.call_tool("whoami", {})
                            seen.append(("error: " if result.is_error else "") + _text(result))

                        tg.start_soon(call)
    return seen


def test_two_providers_of_one_credential_refresh_in_turns(up: Protected, tmp_path: Path) -> None:
    assert anyio.run(_scenario, tmp_path, up, False) == ["ana"] * (2 * ROUNDS)


def test_two_replicas_refresh_one_credential_in_turns(up: Protected, tmp_path: Path) -> None:
    """The turns are taken through the store (a lease on the credential's row), so processes
    and replicas that share only the database do not both send one refresh token."""
    assert anyio.run(_scenario, tmp_path, up, True) == ["ana"] * (2 * ROUNDS)
