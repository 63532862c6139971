"""Noticing that another process changed the stored configuration (portals and servers).

One interface for both backends: `ConfigChanges.follow(on_change)` runs until cancelled and
awaits `on_change()` after every committed configuration write by any process (this one
included: the caller makes applying the same config a no-op), and once after it (re)connects,
for writes it may have missed.

- PostgreSQL: every write (`ConfigStore.replacing`) sends `NOTIFY codemode_config` in its own
  transaction, so it is delivered at commit and never for a rolled-back write. A dedicated
  psycopg connection (autocommit, outside the pool) `LISTEN`s; when the database goes away it
  reconnects with a bounded back-off (0.5 s doubling to 5 s) and then calls `on_change` once.
- SQLite (processes on one host): the newest `config_audit` id is polled every second (one
  indexed read); a new id means a write was committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import psycopg
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from engine.store.db import StoreUnavailable, read
from engine.store.schema import config_audit

log = logging.getLogger("codemode.store")
CHANNEL = "codemode_config"
POLL_S = 1.0
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0
# How long the listener waits for a notification before checking its connection is alive:
# a server that vanished without closing the socket is noticed within this.
LISTEN_IDLE_S = 5.0

OnChange = Callable[[], Awaitable[None]]


def is_postgresql(engine: AsyncEngine) -> bool:
    return engine.url.get_backend_name() == "postgresql"


async def announce(conn: AsyncConnection) -> None:
    """Tell the other processes, at this write transaction's commit, that the stored
    configuration changed (PostgreSQL; SQLite's pollers see the new audit row instead)."""
    if is_postgresql(conn.engine):
        await conn.exec_driver_sql(f"NOTIFY {CHANNEL}")


class ConfigChanges:
    """The change feed of one store's configuration (see the module)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def follow(self, on_change: OnChange) -> None:
        """Await `on_change()` after each committed write, until cancelled. Never raises
        for an outage: it waits for the database and carries on."""
        if is_postgresql(self._engine):
            await self._listen(on_change)
        else:
            await self._poll(on_change)

    async def _latest(self) -> int:
        async with read(self._engine) as conn:
            value = (await conn.execute(select(func.max(config_audit.c.id)))).scalar()
            return int(value or 0)

    async def _poll(self, on_change: OnChange) -> None:
        seen: int | None = None
        while True:
            try:
                latest = await self._latest()
                if seen is not None and latest != seen:
                    await on_change()
                seen = latest
            except StoreUnavailable as exc:
                log.warning("config changes: %s; polling again in %g s", exc, POLL_S)
            await asyncio.sleep(POLL_S)

    def _conninfo(self) -> str:
        url = self._engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def _listen(self, on_change: OnChange) -> None:
        delay = RETRY_FIRST_S
        first = True
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._conninfo(), autocommit=True, connect_timeout=5
                ) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    if not first:
                        log.info("config changes: listening again on %s", CHANNEL)
                        await on_change()  # what was written while we were away
                    first, delay = False, RETRY_FIRST_S
                    await self._receive(conn, on_change)
            except psycopg.OperationalError as exc:
                first = False
                reason = str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
                log.warning(
                    "config changes: the listener lost the database (%s); retrying in %g s",
                    reason,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _receive(
        self, conn: psycopg.AsyncConnection[tuple[object, ...]], on_change: OnChange
    ) -> None:
        while True:
            got = 0
            async for _ in conn.notifies(timeout=LISTEN_IDLE_S):
                got += 1
                break  # one call covers every write so far: on_change re-reads the store
            if got:
                await on_change()
            else:
                await conn.execute("SELECT 1")  # raises OperationalError if the link is gone
