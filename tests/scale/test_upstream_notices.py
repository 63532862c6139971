"""An upstream's list_changed seen by one replica reaches the clients of another: two portal
replicas on one PostgreSQL database, each with its own session to a 2025-era upstream (the
demo with `--legacy`), which announces a new tool only on the session that added it. A client
session on replica 2 gets `tools/list_changed` and then lists the tool added through replica 1
(`engine.upstream_relay`)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

import tests.cli.test_serve as cli_serve
from tests.identity.test_server_selection import LIST_CHANGED, Inbox, names
from tests.identity_flow.dev_portal import dev_portal_toml
from tests.identity_flow.devflow import connect_client
from tests.pg_cluster import PgCluster
from tests.scale.conftest import SECRET_ENV, client
from tests.scale.test_haproxy import replica
from tests.server.conftest import eventually
from tests.upstreams.harness import RunningServer, demo_argv, free_port, running

pytestmark = pytest.mark.anyio


def _ms_since(start: float) -> str:
    return f"{(time.monotonic() - start) * 1000:.0f}"


@pytest.fixture
def legacy_demo() -> Iterator[RunningServer]:
    with running(demo_argv("--legacy")) as server:
        yield server


def replica_toml(directory: Path, database_url: str, upstream: str) -> Path:
    return dev_portal_toml(
        directory,
        {"demo": {"url": upstream}},
        database_url=database_url,
        settings={"secret_key_env": SECRET_ENV},
    )


@asynccontextmanager
async def legacy_session(url: str, token: str, host: str, inbox: Inbox) -> AsyncIterator[Client]:
    """A 2025-era session (notifications arrive on its stream) sending `host` as its Host."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}", "Host": host})
    transport = streamable_http_client(url, http_client=http)
    async with Client(transport, mode="legacy", message_handler=inbox.message) as session:
        yield session


async def test_a_change_announced_to_replica_1_reaches_a_client_of_replica_2(
    tmp_path: Path, pg_cluster: PgCluster, legacy_demo: RunningServer
) -> None:
    config = replica_toml(tmp_path, pg_cluster.new_database(), legacy_demo.url)
    ports = (free_port(), free_port())
    first, second = (f"http://127.0.0.1:{p}" for p in ports)
    host = first.removeprefix("http://")  # the name clients use (a balancer's, in production)
    replicas: list[cli_serve.Served] = []
    try:
        for port in ports:
            replicas.append(replica(config, port))
            replicas[-1].wait_for_line("portal team")
        token = (await connect_client(first, "ana@example.com")).access_token
        inbox = Inbox()
        async with legacy_session(f"{second}/mcp", token, host, inbox) as watcher:
            assert "demo_fresh" not in await names(watcher)
            async with client(f"{first}/mcp", token) as changer:
                added = await changer.call_tool("demo_mutate", {"kind": "tool", "name": "fresh"})
                assert not added.is_error, added
            answered = time.monotonic()
            await eventually(lambda: LIST_CHANGED in inbox.methods, "list_changed on replica 2")
            print(f"added via replica 1 -> list_changed on replica 2: {_ms_since(answered)} ms")
            assert "demo_fresh" in await names(watcher)
    finally:
        for served in replicas:
            served.stop()
