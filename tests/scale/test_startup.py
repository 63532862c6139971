"""Two replicas (`codemode serve`) started at the same moment on one empty PostgreSQL
database: one migrates under the advisory lock, the other waits and finds the schema done;
with `[admin]` (configuration in the store) the config file seeds the empty store once. Both
come up ready, with no error in their output, and the database has one schema at the newest
migration and one copy of the seeded configuration."""

from __future__ import annotations

import os
from pathlib import Path

import httpx2
import pytest

import tests.cli.test_serve as cli_serve
from tests.pg_cluster import PgCluster
from tests.scale.conftest import SECRET_ENV, SECRET_KEY, portal_toml
from tests.store.test_migrations import HEAD, TABLES
from tests.upstreams.harness import free_port

pytestmark = pytest.mark.anyio


async def test_two_replicas_start_at_once_on_an_empty_database(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    url = pg_cluster.new_database()
    database = url.rsplit("/", 1)[1]
    config = portal_toml(tmp_path, url)
    config.write_text('[admin]\nconfig = "store"\n' + config.read_text("utf-8"), "utf-8")
    ports = (free_port(), free_port())
    env = {**os.environ, SECRET_ENV: SECRET_KEY}
    replicas = [
        cli_serve.Served(["serve", "--config", str(config), "--port", str(port)], env=env)
        for port in ports
    ]
    try:
        for served in replicas:
            served.wait_for_line("portal team")
        async with httpx2.AsyncClient(timeout=30) as http:
            for port in ports:
                ready = await http.get(f"http://127.0.0.1:{port}/readyz")
                assert (ready.status_code, ready.json()) == (200, {"ready": True})
    finally:
        for served in replicas:
            served.stop()
    for served in replicas:
        errors = served.rest(stderr=True)
        assert "Traceback" not in errors and "ERROR" not in errors, errors
    assert pg_cluster.sql("SELECT version_num FROM alembic_version", database).split() == [HEAD]
    listed = pg_cluster.sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database
    ).split()
    assert sorted(listed) == sorted(TABLES)
    objects = pg_cluster.sql("SELECT kind, id FROM config_objects ORDER BY kind", database)
    assert objects.split() == ["portal|team", "server|time"]
