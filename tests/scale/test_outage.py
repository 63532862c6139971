"""A PostgreSQL outage under load: while the database is stopped, requests that need it get
503 with Retry-After (never a 500, never a hang), `/readyz` says so and `/healthz` does not;
when it is back, service resumes by itself, with no restart of the portal."""

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
