"""An admin-API write through one replica reaches MCP clients connected to another: two
portals (each its own gateway, HTTP server and upstream connections) share one store, on
PostgreSQL (`LISTEN/NOTIFY`) and on a SQLite file (polled). A real `mcp` SDK client on
replica 2 gets `notifications/tools/list_changed` and sees the new server's tools after the
official `cloudflare` SDK wrote through replica 1. On PostgreSQL the listener also survives
the database stopping for a few seconds and still carries the next write.

The delay from the write sent to replica 2's `list_changed` is printed (run with `-s`); it
is a figure, not an assertion."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from anyio.from_thread import BlockingPortal

from engine import Config
from engine.config_store import import_config
from engine.store import open_store
from tests.pg_cluster import PgCluster
from tests.web.cf_write_helpers import PREFIX, Running, run_portal, seed_config, stdio_demo
from tests.web.conftest import _poll
from tests.web.test_cf_live import Inbox, _names, connect

pytestmark = pytest.mark.filterwarnings("ignore:The logging capability is deprecated")
KEY_ENV = "CODEMODE_REPLICA_TEST_KEY"
OUTAGE_S = 4.0
WAIT_S = 60.0


def _config(tmp: Path, database_url: str) -> Config:
    data = seed_config(tmp).model_dump(mode="json", exclude_none=True)
    data["settings"] |= {"database_url": database_url, "secret_key_env": KEY_ENV}
    return Config.from_dict(data)


@contextmanager
def two_replicas(portal: BlockingPortal, tmp: Path, database_url: str) -> Iterator[list[Running]]:
    os.environ[KEY_ENV] = "replica-test-secret-key-0123456789abcdef"
    with ExitStack() as stack:
        one = stack.enter_context(run_portal(portal, _config(tmp, database_url), tmp))
        other = tmp / "two"
        other.mkdir()
        config = _config(other, database_url)
        two = stack.enter_context(run_portal(portal, config, other, tokens=one.tokens))
        for replica in (one, two):
            replica.wait_status("time", "Ready")
        yield [one, two]


async def _add_server(one: Running, two: Running, server_id: str) -> float:
    """Create a stdio server through replica 1, wait until replica 2 runs it too, then add it
    to portal `main` through replica 1. Returns when that last write was sent."""
    admin = {"Authorization": f"Bearer {one.tokens['writer']}"}
    async with httpx2.AsyncClient(base_url=one.base + PREFIX, headers=admin, timeout=60) as api:
        server = {"id": server_id, "name": server_id, "auth_type": "unauthenticated"}
        created = await api.post("/servers", json=server | stdio_demo())
        assert created.status_code == 200, created.text
        status = two.gateway.catalog.status
        await _poll(
            lambda: (
                getattr(status().get(server_id), "state", None) is not None
                and status()[server_id].state.value == "Ready"
            ),
            f"{server_id} to be Ready on replica 2",
        )
        servers = [{"server_id": s.server_id} for s in one.gateway.config.portal("main").servers]
        sent = time.monotonic()
        body = {"name": "Main", "servers": [*servers, {"server_id": server_id}]}
        response = await api.put("/portals/main", json=body)
        assert response.status_code == 200, response.text
        return sent


async def _reaches(one: Running, two: Running, server_id: str) -> float:
    inbox = Inbox()
    async with connect(f"{two.base}/p/main/mcp", inbox) as client:
        assert f"{server_id}_echo" not in await _names(client)
        sent = await _add_server(one, two, server_id)
        delay = await inbox.wait_changed(sent)
        with anyio.fail_after(WAIT_S):
            while f"{server_id}_echo" not in await _names(client):
                await inbox.wait_changed(sent)
        return delay


def _check(one: Running, two: Running, portal: BlockingPortal, what: str) -> None:
    delay = portal.call(_reaches, one, two, "local")
    print(f"write on replica 1 -> list_changed on replica 2 ({what}): {delay * 1000:.0f} ms")
    assert [s.server_id for s in two.gateway.config.portal("main").servers] == ["time", "local"]


async def _import_reaches(tmp: Path, two: Running) -> None:
    """`codemode import` (its function, on a store handle of its own) of a config without
    `local` takes `local`'s tools away from a client of a running replica."""
    inbox = Inbox()
    async with connect(f"{two.base}/p/main/mcp", inbox) as client:
        assert "local_echo" in await _names(client)
        imported = _config(tmp, str(two.gateway.config.settings.database_url))
        async with open_store(imported.settings) as store:
            assert await import_config(store, imported) > 0
        with anyio.fail_after(WAIT_S):
            while "local_echo" in await _names(client):
                await inbox.wait_changed(time.monotonic())


def test_write_reaches_other_replica_sqlite(
    blocking_portal: BlockingPortal, tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'shared.db'}"
    with two_replicas(blocking_portal, tmp_path, url) as (one, two):
        _check(one, two, blocking_portal, "SQLite, polled")
        blocking_portal.call(_import_reaches, tmp_path, two)
        # Replica 1 polls on its own 1 s schedule: it may see the import after replica 2.
        blocking_portal.call(
            _poll,
            lambda: [s.server_id for s in one.gateway.config.portal("main").servers] == ["time"],
            "replica 1 to apply the import",
        )


def test_write_reaches_other_replica_postgresql_after_outage(
    blocking_portal: BlockingPortal, tmp_path: Path, pg_cluster: PgCluster
) -> None:
    url = pg_cluster.new_database()
    with two_replicas(blocking_portal, tmp_path, url) as (one, two):
        _check(one, two, blocking_portal, "PostgreSQL NOTIFY")
        pg_cluster.stop()
        try:
            time.sleep(OUTAGE_S)  # the listener loses its connection and retries meanwhile
        finally:
            pg_cluster.start()
        delay = blocking_portal.call(_reaches, one, two, "later")
        print(f"write on replica 1 -> list_changed on replica 2 (after an outage): {delay:.3f} s")
