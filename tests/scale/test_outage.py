"""A PostgreSQL outage: while the database is stopped, requests that need it get 503 with
Retry-After (never a 500, never a hang), `/readyz` says so and `/healthz` does not; when it is
back, service resumes by itself, with no restart of the portal. Once step by step, once for
5 s under concurrent load."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

from engine import Config
from tests.identity_flow.devflow import ClientTokens, connect_client
from tests.pg_cluster import PgCluster
from tests.scale.conftest import SECRET_ENV, SECRET_KEY, Statuses, client, portal_config
from tests.server.conftest import ServedPortal

pytestmark = pytest.mark.anyio

OUTAGE_REQUESTS = 20  # bounded load while the database is down
RECOVERY_TRIES = 80  # x 0.25 s: the pool reconnects on the first request after the restart


@pytest.fixture
def own_cluster() -> Iterator[PgCluster]:
    """A cluster of this test's own: it is stopped and started again."""
    with PgCluster.started() as cluster:
        yield cluster


@pytest.fixture
def portal(own_cluster: PgCluster, tmp_path: Path) -> Iterator[ServedPortal]:
    os.environ[SECRET_ENV] = SECRET_KEY
    config = Config.from_dict(portal_config(own_cluster.new_database(), tmp_path))
    served = ServedPortal(config)
    served.start()
    try:
        yield served
    finally:
        served.stop()
        os.environ.pop(SECRET_ENV, None)


def refresh_form(tokens: ClientTokens) -> dict[str, str]:
    assert tokens.refresh_token is not None
    return {
        "grant_type": "refresh_token",
        "refresh_token": tokens.refresh_token,
        "client_id": tokens.client_id,
        "resource": tokens.resource,
    }


async def call_time(url: str, token: str, statuses: Statuses) -> bool:
    """One 2026-era client: discover, then a tool call; whether it got its answer."""
    try:
        async with client(url, token, statuses) as c:
            result = await c.call_tool("time_get_current_time", {"timezone": "UTC"})
            return not result.is_error
    except Exception:  # the SDK raises on a 503; the status is what the test checks
        return False


async def test_store_outage_is_503_with_retry_after_and_recovers(
    portal: ServedPortal, own_cluster: PgCluster
) -> None:
    tokens = await connect_client(portal.base, "ana@example.com")
    async with httpx2.AsyncClient(timeout=30) as http:
        assert (await http.get(f"{portal.base}/readyz")).json() == {"ready": True}
        before = Statuses()
        assert await call_time(portal.url, tokens.access_token, before)

        await anyio.to_thread.run_sync(own_cluster.stop)
        down = Statuses()
        with anyio.fail_after(120):  # a hang fails here, not at the suite's timeout
            answered = [
                await call_time(portal.url, tokens.access_token, down)
                for _ in range(OUTAGE_REQUESTS)
            ]
            ready = await http.get(f"{portal.base}/readyz")
            live = await http.get(f"{portal.base}/healthz")
            refresh = await http.post(f"{portal.base}/token", data=refresh_form(tokens))
        refused = [(s, retry) for s, retry in down.seen if s == 503]
        assert refused, down.seen  # past the 0.5 s token cache, the store was needed
        assert all(retry == "5" for _, retry in refused), refused
        assert {s for s, _ in down.seen} <= {200, 202, 503}, down.seen  # no 500, no 401
        assert answered.count(True) < OUTAGE_REQUESTS
        assert (ready.status_code, ready.json()) == (
            503,
            {"ready": False, "reason": "store unreachable"},
        )
        assert live.status_code == 200
        # The authorization server too: a refresh is 503, not "invalid_grant" (which would
        # make the client drop its refresh token and sign in again).
        assert (refresh.status_code, refresh.headers.get("retry-after")) == (503, "5")

        await anyio.to_thread.run_sync(own_cluster.start)
        after = Statuses()
        for _ in range(RECOVERY_TRIES):
            if await call_time(portal.url, tokens.access_token, after):
                break
            await anyio.sleep(0.25)
        else:
            raise AssertionError(f"no answer after the database came back: {after.seen}")
        assert (await http.get(f"{portal.base}/readyz")).json() == {"ready": True}
        # The refresh token the outage refused still works.
        refreshed = await http.post(f"{portal.base}/token", data=refresh_form(tokens))
        assert refreshed.status_code == 200, refreshed.text


WORKERS = 6  # concurrent 2026-era clients
CALLS_PER_WORKER = 400  # at most; a worker stops at its first success once the database is back
CALL_BOUND_S = 30.0  # liveness: above the pool's connect (5 s) and checkout (10 s) timeouts
OUTAGE_S = 5.0


def logged(cluster: PgCluster, database: str) -> int:
    statement = "SELECT count(*) FROM request_log WHERE kind = 'tool_call' AND status = 'ok'"
    return int(cluster.sql(statement, database))


async def test_five_seconds_without_postgresql_under_load(
    own_cluster: PgCluster, tmp_path: Path
) -> None:
    """Workers call all along; PostgreSQL is stopped for 5 s under them. Every request is
    answered within a bound (a hang fails `fail_after`), with 200 or 503 + Retry-After, never
    500; once it is back every worker gets through again without a portal restart, and what
    every call a client saw answered, before, during or after, is in the request log (in the
    same database)."""
    url = own_cluster.new_database()
    database = url.rsplit("/", 1)[1]
    os.environ[SECRET_ENV] = SECRET_KEY
    served = ServedPortal(Config.from_dict(portal_config(url, tmp_path)))
    served.start()
    try:
        tokens = await connect_client(served.base, "ana@example.com")
        statuses = Statuses()
        back = anyio.Event()
        after: list[int] = []  # per worker: calls that succeeded, started after the return
        answered_calls: list[int] = []  # every call a client saw answered, outage or not

        async def worker() -> None:
            for _ in range(CALLS_PER_WORKER):
                started_after = back.is_set()
                with anyio.fail_after(CALL_BOUND_S):
                    answered = await call_time(served.url, tokens.access_token, statuses)
                if answered:
                    answered_calls.append(1)
                if answered and started_after:
                    after.append(1)
                    return
                await anyio.sleep(0.05)
            raise AssertionError("no answer after the database came back")

        async with anyio.create_task_group() as load:
            for _ in range(WORKERS):
                load.start_soon(worker)
            await anyio.sleep(1.0)
            await anyio.to_thread.run_sync(own_cluster.stop)
            await anyio.sleep(OUTAGE_S)
            await anyio.to_thread.run_sync(own_cluster.start)
            back.set()

        assert len(after) == WORKERS
        refused = [retry for status, retry in statuses.seen if status == 503]
        assert refused and set(refused) == {"5"}, statuses.seen
        assert {s for s, _ in statuses.seen} <= {200, 202, 503}, statuses.seen
        # Every call a client saw answered is in the request log, those answered while the
        # database was down too (cached token checks): the writer held them until it was back.
        for _ in range(RECOVERY_TRIES):
            n = await anyio.to_thread.run_sync(logged, own_cluster, database)
            if n >= len(answered_calls):
                break
            await anyio.sleep(0.25)
        assert n >= len(answered_calls) > WORKERS
    finally:
        served.stop()
        os.environ.pop(SECRET_ENV, None)
