"""Revocation across replicas: two portal replicas on one PostgreSQL database (no balancer:
the test picks the replica, sending the Host a balancer would). A client has a `tools/call`
open on replica 1, held at the upstream's gate (`tests.upstreams.counting`), and a 2025-era
session's standing GET stream; its grant is revoked on replica 2 (`/revoke` with its refresh
token, as a client signing out does). Then replica 1 ends both, though the upstream never
answers (`StreamGuard`), and after 1 s refuses the token (401)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

import tests.cli.test_serve as cli_serve
from tests.identity_flow.devflow import connect_client
from tests.pg_cluster import PgCluster
from tests.scale.conftest import client
from tests.scale.test_haproxy import replica, wait_until
from tests.scale.test_replica_kill import counting_argv, replica_toml, set_gate, upstream_state
from tests.upstreams.harness import RunningServer, free_port, running

pytestmark = pytest.mark.anyio

REVOCATION_BOUND_S = 1.0
ENDED_BOUND_S = 20.0  # liveness only: the gate stays closed, so only the guard can end it
LIST = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
LEGACY = "2025-11-25"
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": LEGACY,
        "capabilities": {},
        "clientInfo": {"name": "revocation-test", "version": "1"},
    },
}


@pytest.fixture
def upstream() -> Iterator[RunningServer]:
    with running(counting_argv()) as server:
        yield server


async def status_of_a_request(url: str, token: str, host: str) -> int:
    headers = {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Host": host,
    }
    async with httpx2.AsyncClient(timeout=30) as http:
        return (await http.post(url, json=LIST, headers=headers)).status_code


async def standing_stream(url: str, token: str, opened: anyio.Event, ended: anyio.Event) -> None:
    """A 2025-era session's standing GET stream on `url`: `opened` is set once it is open;
    returns when the portal ends it."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json, text/event-stream"}
    async with httpx2.AsyncClient(timeout=httpx2.Timeout(30, read=None)) as http:
        init = await http.post(url, json=INITIALIZE, headers=headers)
        assert init.status_code == 200, init.text
        headers |= {
            "Mcp-Session-Id": init.headers["mcp-session-id"],
            "Mcp-Protocol-Version": LEGACY,
        }
        done = await http.post(
            url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers=headers
        )
        assert done.status_code == 202, done.text
        headers["Accept"] = "text/event-stream"
        async with http.stream("GET", url, headers=headers) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            opened.set()
            async for _ in stream.aiter_bytes():
                pass
    ended.set()


async def test_a_revocation_on_replica_2_ends_the_open_call_on_replica_1(
    tmp_path: Path, pg_cluster: PgCluster, upstream: RunningServer
) -> None:
    url = pg_cluster.new_database()
    ports = (free_port(), free_port())
    first_url, second_url = (f"http://127.0.0.1:{p}" for p in ports)
    host = first_url.removeprefix("http://")  # the name clients use: replica 1's here
    configs = [replica_toml(tmp_path, url, upstream.url, via) for via in ("r1", "r2")]
    replicas: list[cli_serve.Served] = []
    try:
        for config, port in zip(configs, ports, strict=True):
            replicas.append(replica(config, port))
            replicas[-1].wait_for_line("portal team")
        tokens = await connect_client(first_url, "ana@example.com")
        assert tokens.refresh_token is not None
        async with client(f"{second_url}/mcp", tokens.access_token, host=host) as c:
            assert "counter_count" in {t.name for t in (await c.list_tools()).tools}

        await set_gate(upstream, open_=False)
        outcome: list[str] = []
        ended = anyio.Event()

        async def held_call() -> None:
            try:
                async with client(f"{first_url}/mcp", tokens.access_token) as c:
                    result = await c.call_tool("counter_count", {"key": "held"})
                outcome.append("error result" if result.is_error else "answered")
            except Exception as exc:  # the SDK raises when its request is cut off or refused
                outcome.append(type(exc).__name__)
            finally:
                ended.set()

        stream_opened = anyio.Event()
        stream_ended = anyio.Event()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(held_call)
            tasks.start_soon(
                standing_stream,
                f"{first_url}/mcp",
                tokens.access_token,
                stream_opened,
                stream_ended,
            )
            with anyio.fail_after(ENDED_BOUND_S):
                await stream_opened.wait()

            async def held() -> bool:
                return bool((await upstream_state(upstream))["held"].get("r1"))

            await wait_until(held, "the call to be held at the upstream")
            async with httpx2.AsyncClient(timeout=30) as http:
                revoked = await http.post(
                    f"{second_url}/revoke",
                    data={"token": tokens.refresh_token, "client_id": tokens.client_id},
                    headers={"Host": host},
                )
            assert revoked.status_code == 200, revoked.text
            revoked_at = time.monotonic()
            assert not stream_ended.is_set()  # open until the revocation
            with anyio.fail_after(ENDED_BOUND_S):
                await ended.wait()
                await stream_ended.wait()
            print(
                f"revoked on replica 2 -> both ended on replica 1: "
                f"{(time.monotonic() - revoked_at) * 1000:.0f} ms"
            )
        assert outcome != ["answered"], outcome
        assert (await upstream_state(upstream))["finished"] == 0  # the gate never opened

        await anyio.sleep(max(0.0, REVOCATION_BOUND_S - (time.monotonic() - revoked_at)))
        assert await status_of_a_request(f"{first_url}/mcp", tokens.access_token, host) == 401
    finally:
        await set_gate(upstream, open_=True)
        for served in replicas:
            served.stop()
