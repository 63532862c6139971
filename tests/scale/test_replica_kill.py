"""A replica killed under load (SIGKILL: no drain, no goodbye). Two replicas behind HAProxy
(the README's configuration) on one PostgreSQL database; workers of 2026-era clients make
direct `tools/call`s through the balancer to a real upstream that counts calls
(`tests.upstreams.counting`), every call with a key of its own.

The upstream holds calls at a gate so the moment of the kill is known: every worker has a
call in flight, some through replica 1, and every call answered so far is in the request
log (a crash loses at most the entries of the writer's last 50 ms batch: README). Then
replica 1 is killed and the gate opened. The calls in flight on replica 1 fail (HAProxy
answers 502: it does not re-send a request a replica already got, so no call reaches the
upstream twice); every later call goes to the survivor and succeeds; every call the
clients saw succeed is in the shared request log, once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest

import tests.cli.test_serve as cli_serve
from tests.haproxy import Balancer
from tests.identity_flow.devflow import connect_client
from tests.pg_cluster import PgCluster
from tests.scale.conftest import VENV_BIN, client
from tests.scale.test_haproxy import ready, replica, wait_until
from tests.upstreams.harness import RunningServer, free_port, running

pytestmark = pytest.mark.anyio

WORKERS = 6
BEFORE, AFTER = 5, 5  # calls per worker before the gate closes, and after the kill
POLL_TRIES = 300  # x 0.1 s


def counting_argv() -> list[str]:
    return [str(VENV_BIN / "python"), "-m", "tests.upstreams.counting", "--port", "{port}"]


def replica_toml(directory: Path, database_url: str, upstream: str, via: str) -> Path:
    """The portal config of one replica: the same everywhere but the upstream URL's `via`,
    which tells the upstream which replica a call came through."""
    path = directory / f"portal-{via}.toml"
    path.write_text(
        f"""
[identity]
provider = "dev"

[[policies]]
id = "staff"
decision = "allow"
include = [{{ email_domain = "example.com" }}]

[[servers]]
id = "counter"
url = {json.dumps(f"{upstream}?via={via}")}
policies = ["staff"]

[[portals]]
id = "team"
policies = ["staff"]
servers = [{{ server_id = "counter" }}]

[settings]
request_log_path = {json.dumps(str(directory / f"requests-{via}.sqlite3"))}
database_url = {json.dumps(database_url)}
secret_key_env = "CODEMODE_SCALE_TEST_KEY"
""",
        encoding="utf-8",
    )
    return path


@dataclass
class Outcomes:
    ok: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


async def call(url: str, token: str, key: str, outcomes: Outcomes) -> None:
    try:
        async with client(url, token) as c:
            result = await c.call_tool("counter_count", {"key": key})
        done = not result.is_error and result.content[0].text == key  # type: ignore[union-attr]
    except Exception:  # a 502 from the balancer: what the test counts
        done = False
    (outcomes.ok if done else outcomes.failed).append(key)


async def upstream_state(upstream: RunningServer) -> dict[str, Any]:
    async with httpx2.AsyncClient(timeout=10) as http:
        response = await http.get(f"{upstream.base}/admin/counts")
        return dict(response.json())


async def set_gate(upstream: RunningServer, *, open_: bool) -> None:
    async with httpx2.AsyncClient(timeout=10) as http:
        await http.post(f"{upstream.base}/admin/gate", json={"open": open_})


def logged_calls(cluster: PgCluster, database: str) -> int:
    statement = "SELECT count(*) FROM request_log WHERE kind = 'tool_call' AND status = 'ok'"
    return int(cluster.sql(statement, database))


@pytest.fixture
def upstream() -> Iterator[RunningServer]:
    with running(counting_argv()) as server:
        yield server


async def test_killing_a_replica_under_load(
    tmp_path: Path, pg_cluster: PgCluster, upstream: RunningServer
) -> None:
    url = pg_cluster.new_database()
    database = url.rsplit("/", 1)[1]
    ports = (free_port(), free_port())
    configs = [replica_toml(tmp_path, url, upstream.url, via) for via in ("r1", "r2")]
    first = replica(configs[0], ports[0])
    second: cli_serve.Served | None = None
    try:
        with Balancer.started(tmp_path, ports) as lb:
            first.wait_for_line("portal team")
            await wait_until(lambda: ready(lb.url), "the balancer to see replica 1")
            tokens = await connect_client(lb.url, "ana@example.com")
            second = replica(configs[1], ports[1])
            second.wait_for_line("portal team")
            await wait_until(lambda: ready(f"http://127.0.0.1:{ports[1]}"), "replica 2")
            await anyio.sleep(2.5)  # two health checks (inter 1s, rise 1): both are up

            outcomes = Outcomes()
            mcp = f"{lb.url}/mcp"

            async def worker(w: int, phase: str, n: int) -> None:
                for i in range(n):
                    await call(mcp, tokens.access_token, f"{phase}-w{w}-{i}", outcomes)

            async with anyio.create_task_group() as load:
                for w in range(WORKERS):
                    load.start_soon(worker, w, "before", BEFORE)
            assert outcomes.failed == [] and len(outcomes.ok) == WORKERS * BEFORE

            await set_gate(upstream, open_=False)
            async with anyio.create_task_group() as load:
                for w in range(WORKERS):
                    load.start_soon(worker, w, "during", 1 + AFTER)

                async def all_held() -> bool:
                    held = (await upstream_state(upstream))["held"]
                    return bool(sum(held.values()) == WORKERS and held.get("r1"))

                await wait_until(all_held, "every worker's call held at the upstream")
                await wait_until(
                    lambda: anyio.to_thread.run_sync(
                        lambda: logged_calls(pg_cluster, database) == len(outcomes.ok)
                    ),
                    "the calls answered so far to be in the request log",
                )
                on_first = (await upstream_state(upstream))["held"]["r1"]
                first.stop()  # SIGKILL
                await set_gate(upstream, open_=True)

            state = await upstream_state(upstream)
            counts: dict[str, int] = state["counts"]
            # No call reached the upstream twice: nothing re-sent a request a replica had.
            assert max(counts.values()) == 1, {k: n for k, n in counts.items() if n > 1}
            # What failed is exactly what replica 1 held when it died; all else succeeded.
            assert len(outcomes.failed) == on_first, outcomes.failed
            assert all(state["via"][key] == "r1" for key in outcomes.failed)
            assert len(outcomes.ok) == WORKERS * (BEFORE + 1 + AFTER) - on_first
            assert all(counts.get(key) == 1 for key in outcomes.ok)
            # After the kill, the survivor served everything.
            after = [k for k in outcomes.ok if k.startswith("during") and not k.endswith("-0")]
            assert {state["via"][k] for k in after} == {"r2"}
            # Every call a client saw succeed is in the request log, which both replicas wrote.
            await wait_until(
                lambda: anyio.to_thread.run_sync(
                    lambda: logged_calls(pg_cluster, database) >= len(outcomes.ok)
                ),
                "the survivor's entries in the request log",
            )
            assert logged_calls(pg_cluster, database) == len(outcomes.ok)
            print(
                f"replica killed holding {on_first} calls: {len(outcomes.ok)} succeeded, "
                f"{len(outcomes.failed)} failed, none twice, all {len(outcomes.ok)} logged"
            )
    finally:
        first.stop()
        if second is not None:
            second.stop()
