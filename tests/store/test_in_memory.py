"""SQLite in memory (`database_url = "sqlite+aiosqlite://"`, the sign-in demo's store): every
task shares one connection, so concurrent reads and writes must take turns instead of
interleaving their transactions on it."""

from __future__ import annotations

import logging
from pathlib import Path

import anyio
import pytest

from engine.store import open_store
from tests.store.conftest import RESOURCE, Clock, connect, person_and_client, settings_for

pytestmark = pytest.mark.anyio


async def test_concurrent_reads_and_writes_on_one_in_memory_connection(
    tmp_path: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(tmp_path, database_url="sqlite+aiosqlite://")
    caplog.set_level(logging.WARNING)
    async with open_store(settings, environ={}, clock=clock, cache_ttl_s=0) as store:
        pair = await connect(store)
        person_id, _ = await person_and_client(store, "Cursor")
        clock.advance(120)  # every verification now also records the grant's use, off-path
        failures: list[BaseException] = []

        async def verify() -> None:
            try:
                for _ in range(5):
                    info = await store.grants.verify_access_token(
                        pair.access_token, resource=RESOURCE
                    )
                    assert info is not None
                    clock.advance(61)
            except BaseException as exc:
                failures.append(exc)
                raise

        async def list_clients() -> None:
            for _ in range(20):
                await store.grants.connected_clients(person_id)

        async with anyio.create_task_group() as tasks:
            for _ in range(4):
                tasks.start_soon(verify)
            tasks.start_soon(list_clients)
        await anyio.sleep(0.2)  # let the background use-records finish before closing
    assert failures == []
    assert not [r for r in caplog.records if "could not record" in r.getMessage()]
