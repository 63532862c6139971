"""Migrations build the schema from nothing, are idempotent, agree with schema.py, and
processes opening one file at once neither fail nor corrupt it."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from engine.store import Store, StoreError, open_store
from engine.store.db import create_engine, migrate
from engine.store.schema import metadata
from tests.pg_cluster import PgCluster
from tests.store.conftest import PG_SECRET_KEY, connect, settings_for

pytestmark = pytest.mark.anyio

HEAD = "0010"
"""The newest migration: every store, new or upgraded, ends there."""

TABLES = {
    "alembic_version",
    "admin_tokens",
    "config_audit",
    "config_objects",
    "people",
    "oauth_clients",
    "grants",
    "authorization_codes",
    "tokens",
    "upstream_oauth_states",
    "request_log",
    "client_server_selections",
    "upstream_auth_flows",
    "connect_prompts",
}
ROOT = Path(__file__).resolve().parents[2]


def tables(db: Path) -> set[str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows if not name.startswith("sqlite_")}


def version(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [v for (v,) in conn.execute("SELECT version_num FROM alembic_version")]


async def test_schema_created_from_nothing_then_reopened_unchanged(tmp_path: Path) -> None:
    db = tmp_path / "codemode.db"
    assert not db.exists()
    async with open_store(settings_for(tmp_path), environ={}) as store:
        pair = await connect(store)
    assert tables(db) == TABLES
    assert version(db) == [HEAD]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    async with open_store(settings_for(tmp_path), environ={}) as store:
        assert await store.grants.verify_access_token(pair.access_token) is not None
    assert version(db) == [HEAD]


async def test_relative_database_url_is_beside_the_config(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, database_url="sqlite+aiosqlite:///data/portal.db")
    async with open_store(settings, environ={}):
        pass
    assert (tmp_path / "data" / "portal.db").is_file()
    assert (tmp_path / "data" / "codemode-secret.key").is_file()


async def test_migrated_schema_matches_the_tables_in_schema_py(store: Store) -> None:
    def diff(conn: Connection) -> list[object]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))

    async with store.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_two_stores_open_one_new_file_at_once(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)

    async def use(name: str) -> str:
        async with open_store(settings, environ={}) as store:
            pair = await connect(store, name)
            return pair.access_token

    first, second = await asyncio.gather(use("One"), use("Two"))
    assert version(tmp_path / "codemode.db") == [HEAD]
    async with open_store(settings, environ={}) as store:
        for token in (first, second):
            assert await store.grants.verify_access_token(token) is not None
    with sqlite3.connect(tmp_path / "codemode.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_two_processes_open_one_new_file_at_once(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        from engine.store import open_store
        from tests.store.conftest import connect, settings_for

        async def main():
            async with open_store(settings_for(Path(sys.argv[1])), environ={}) as store:
                for i in range(5):
                    await connect(store, f"{sys.argv[2]} {i}")
                print(store.secret_key.key_id)
        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("CODEMODE_SECRET_KEY", None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for name in ("A", "B")
    ]
    outs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
    # Both ended up with the one key file's key, and the database holds both's work.
    assert outs[0][0] == outs[1][0]
    with sqlite3.connect(tmp_path / "codemode.db") as conn:
        assert conn.execute("SELECT count(*) FROM grants").fetchone() == (10,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert version(tmp_path / "codemode.db") == [HEAD]


def test_two_processes_start_at_once_on_an_empty_postgresql_database(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    url = pg_cluster.new_database()
    name = url.rsplit("/", 1)[1]
    script = textwrap.dedent(
        """
        import asyncio, sys
        from pathlib import Path
        from engine.store import open_store
        from tests.store.conftest import connect, settings_for

        async def main():
            settings = settings_for(Path(sys.argv[1]), database_url=sys.argv[2])
            async with open_store(settings) as store:
                for i in range(5):
                    await connect(store, f"{sys.argv[3]} {i}")
        asyncio.run(main())
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CODEMODE_SECRET_KEY": PG_SECRET_KEY}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path), url, replica],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=ROOT,
        )
        for replica in ("A", "B", "C")
    ]
    outs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_, err) in zip(procs, outs, strict=True):
        assert proc.returncode == 0, err
    assert pg_cluster.sql("SELECT version_num FROM alembic_version", name).split() == [HEAD]
    listed = pg_cluster.sql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'", name
    ).split()
    assert set(listed) == TABLES and len(listed) == len(TABLES)
    assert pg_cluster.sql("SELECT count(*) FROM grants", name).strip() == "15"


async def test_bad_urls_are_store_errors_that_name_the_setting(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match=r"settings\.database_url .* is not a database URL"):
        create_engine("not a url")
    with pytest.raises(StoreError, match="no driver"):
        create_engine("nosuchdb+nodriver://host/db")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot create"):
        create_engine(f"sqlite+aiosqlite:///{blocker}/sub/codemode.db")


async def test_a_file_that_is_not_a_database_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "codemode.db"
    db.write_bytes(b"this is not sqlite" * 100)
    engine = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        with pytest.raises(StoreError, match=r"cannot bring the database .* up to date"):
            await migrate(engine)
    finally:
        await engine.dispose()


async def test_database_file_is_private(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("POSIX modes")
    async with open_store(settings_for(tmp_path), environ={}):
        pass
    assert (tmp_path / "codemode.db").stat().st_mode & 0o777 == 0o600
