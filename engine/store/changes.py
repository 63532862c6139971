"""Noticing what other processes sharing the store changed: the stored configuration
(`ConfigChanges`), and upstream servers that announced new lists (`UpstreamNotices`).

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

`UpstreamNotices` carries "server X announced list_changed" between processes on PostgreSQL
only (`NOTIFY codemode_upstream, '<origin> <server id>'`): each process keeps its own upstream
connections, and a 2025-era upstream tells only the session that caused a change. SQLite
workers are not told: each re-lists at its next interval sync.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

import psycopg
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from engine.store.db import StoreUnavailable, read, write
from engine.store.schema import config_audit

log = logging.getLogger("codemode.store")
CHANNEL = "codemode_config"
UPSTREAM_CHANNEL = "codemode_upstream"
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

    async def _listen(self, on_change: OnChange) -> None:
        async def on_payloads(_payloads: list[str]) -> None:
            await on_change()  # one call covers every write so far: on_change re-reads

        await listen(self._engine, CHANNEL, on_payloads, on_reconnect=on_change)


class UpstreamNotices:
    """Upstream list_changed notices between the processes on one PostgreSQL store."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self.origin = secrets.token_hex(8)
        """This process's name in the notices it sends (it ignores its own)."""

    async def publish(self, server_id: str) -> None:
        """Tell the other processes that `server_id` announced a change (best effort: an
        outage drops the notice; the others re-list at their next interval sync)."""
        try:
            async with write(self._engine) as conn:
                await conn.execute(
                    text("SELECT pg_notify(:channel, :payload)"),
                    {"channel": UPSTREAM_CHANNEL, "payload": f"{self.origin} {server_id}"},
                )
        except StoreUnavailable as exc:
            log.info("upstream notices: could not tell the other processes: %s", exc)

    async def follow(self, on_notice: Callable[[str], Awaitable[None]]) -> None:
        """Await `on_notice(server_id)` for each notice another process sends, until
        cancelled; never raises for an outage."""

        async def on_payloads(payloads: list[str]) -> None:
            servers = []
            for payload in payloads:
                origin, _, server_id = payload.partition(" ")
                if origin != self.origin and server_id and server_id not in servers:
                    servers.append(server_id)
            for server_id in servers:
                await on_notice(server_id)

        await listen(self._engine, UPSTREAM_CHANNEL, on_payloads)


def _conninfo(engine: AsyncEngine) -> str:
    url = engine.url.set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


async def listen(
    engine: AsyncEngine,
    channel: str,
    on_payloads: Callable[[list[str]], Awaitable[None]],
    *,
    on_reconnect: OnChange | None = None,
) -> None:
    """`LISTEN channel` on a dedicated connection (autocommit, outside the pool) and await
    `on_payloads` with the notices that arrived together, until cancelled. When the database
    goes away it reconnects with a bounded back-off (0.5 s doubling to 5 s), then awaits
    `on_reconnect()` for what it may have missed."""
    delay = RETRY_FIRST_S
    first = True
    while True:
        try:
            async with await psycopg.AsyncConnection.connect(
                _conninfo(engine), autocommit=True, connect_timeout=5
            ) as conn:
                await conn.execute(f"LISTEN {channel}")
                if not first:
                    log.info("%s: listening again", channel)
                    if on_reconnect is not None:
                        await on_reconnect()
                first, delay = False, RETRY_FIRST_S
                await _receive(conn, on_payloads)
        except psycopg.OperationalError as exc:
            first = False
            reason = str(exc).strip().splitlines()[0] if str(exc) else type(exc).__name__
            log.warning(
                "%s: the listener lost the database (%s); retrying in %g s", channel, reason, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX_S)


async def _receive(
    conn: psycopg.AsyncConnection[tuple[object, ...]],
    on_payloads: Callable[[list[str]], Awaitable[None]],
) -> None:
    while True:
        payloads = [n.payload async for n in conn.notifies(timeout=LISTEN_IDLE_S, stop_after=1)]
        if payloads:
            payloads += [n.payload async for n in conn.notifies(timeout=0)]
            await on_payloads(payloads)
        else:
            await conn.execute("SELECT 1")  # raises OperationalError if the link is gone
