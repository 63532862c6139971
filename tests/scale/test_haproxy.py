"""Two portal replicas behind HAProxy on loopback (the README's configuration), sharing one
PostgreSQL database and secret key:

- a client authorized while only replica 1 was up works on replica 2 (its token is in the
  shared store; asked directly, with the balancer's Host, so it is replica 2 answering);
- a 2025-11-25-era session stays on the replica that opened it (stick on `Mcp-Session-Id`),
  though the balancer otherwise alternates replicas request by request;
- SIGTERM to replica 1 with `--drain`: its `/readyz` fails, HAProxy sends everything to
  replica 2, and 2026-era clients through the balancer see no error.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

import tests.cli.test_serve as cli_serve
from tests.haproxy import Balancer
from tests.identity_flow.devflow import connect_client
from tests.pg_cluster import PgCluster
from tests.scale.conftest import SECRET_ENV, SECRET_KEY, Statuses, client, portal_toml
from tests.upstreams.harness import free_port

pytestmark = pytest.mark.anyio

CALLS = 8  # bounded load in each phase
POLL_TRIES = 200  # x 0.1 s
DRAIN_S = 5.0  # above the README config's inter 1s x fall 2


def replica(config: Path, port: int) -> cli_serve.Served:
    argv = ["serve", "--config", str(config), "--port", str(port), "--drain", str(DRAIN_S)]
    return cli_serve.Served(argv, env={**os.environ, SECRET_ENV: SECRET_KEY})


@pytest.fixture
def ports() -> Iterator[tuple[int, int]]:
    yield free_port(), free_port()


async def ready(url: str, host: str | None = None) -> bool:
    headers = {} if host is None else {"Host": host}
    try:
        async with httpx2.AsyncClient(timeout=5) as http:
            return (await http.get(f"{url}/readyz", headers=headers)).status_code == 200
    except httpx2.TransportError:
        return False


async def wait_until(check: object, what: str) -> None:
    for _ in range(POLL_TRIES):
        if await check():  # type: ignore[operator]
            return
        await anyio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def call(url: str, token: str, statuses: Statuses, **options: str) -> None:
    async with client(url, token, statuses, **options) as c:
        result = await c.call_tool("time_get_current_time", {"timezone": "UTC"})
        assert not result.is_error, result.content


async def test_two_replicas_behind_haproxy(
    tmp_path: Path, pg_cluster: PgCluster, ports: tuple[int, int]
) -> None:
    config = portal_toml(tmp_path, pg_cluster.new_database())
    second_url = f"http://127.0.0.1:{ports[1]}"
    first = replica(config, ports[0])
    second: cli_serve.Served | None = None
    try:
        with Balancer.started(tmp_path, ports) as lb:
            lb_host = lb.url.removeprefix("http://")
            first.wait_for_line("portal team")
            await wait_until(lambda: ready(lb.url), "the balancer to see replica 1")
            # Authorized while replica 1 alone is up: the whole flow went to replica 1.
            tokens = await connect_client(lb.url, "ana@example.com")
            statuses = Statuses()
            await call(f"{lb.url}/mcp", tokens.access_token, statuses)

            second = replica(config, ports[1])
            second.wait_for_line("portal team")
            # Replica 2 asked directly, as the balancer forwards: Host is the balancer's.
            await call(f"{second_url}/mcp", tokens.access_token, statuses, host=lb_host)
            await wait_until(lambda: ready(second_url), "replica 2 to be ready")
            await anyio.sleep(2.5)  # two health checks (inter 1s, rise 1): the balancer has it up

            # A 2025-era session through the balancer stays on replica 1, which opened it.
            async with client(f"{lb.url}/mcp", tokens.access_token, statuses, mode="legacy") as s:
                for _ in range(CALLS):
                    result = await s.call_tool("time_get_current_time", {"timezone": "UTC"})
                    assert not result.is_error, result.content
            for _ in range(CALLS):  # stateless: either replica
                await call(f"{lb.url}/mcp", tokens.access_token, statuses)

            # Replica 1 drains: readiness first, then it stops; the balancer moves on.
            first.process.send_signal(signal.SIGTERM)
            for _ in range(CALLS * 2):
                await call(f"{lb.url}/mcp", tokens.access_token, statuses)
            assert first.process.wait(timeout=60) == 0
            for _ in range(CALLS):
                await call(f"{lb.url}/mcp", tokens.access_token, statuses)
            assert {status for status, _ in statuses.seen} <= {200, 202}, statuses.seen
    finally:
        first.stop()
        if second is not None:
            second.process.send_signal(signal.SIGTERM)
            second.process.wait(timeout=60)
            second.stop()
