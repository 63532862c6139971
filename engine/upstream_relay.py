"""Passing upstream list_changed announcements between the processes sharing a PostgreSQL
store.

Each process (worker or replica) keeps its own upstream connections, and a 2025-era upstream
announces a change only on the session that caused it: without this, the clients of every
other process kept the old lists until that process's next interval sync. A process that hears
a server announce a change tells the others (`engine.store.changes.UpstreamNotices`); each of
them lists that server again, and its clients get `list_changed` as for a change it saw
itself. A relayed notice is not relayed again (only an upstream's own announcement is).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from engine.store.changes import UpstreamNotices

if TYPE_CHECKING:
    from engine.catalog import Catalog
    from engine.store import Store

log = logging.getLogger("codemode.upstream")
MAX_PENDING = 1000
"""Notices waiting to be sent; beyond, new ones are dropped (the others re-list at their next
interval sync)."""


class UpstreamRelay:
    """Started with the gateway on a PostgreSQL store (see module)."""

    def __init__(self, catalog: Catalog, store: Store) -> None:
        self._catalog = catalog
        self._notices = UpstreamNotices(store.engine)
        self._outbox: asyncio.Queue[str] = asyncio.Queue(MAX_PENDING)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._catalog.on_upstream_notice(self._announced)
        self._tasks = [
            loop.create_task(self._notices.follow(self._heard)),
            loop.create_task(self._send()),
        ]

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def _announced(self, server_id: str) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            self._outbox.put_nowait(server_id)

    async def _send(self) -> None:
        while True:
            server_id = await self._outbox.get()
            try:
                await self._notices.publish(server_id)
            except Exception:  # a bug here must not end the relay: logged, the next is sent
                log.exception("upstream %s: telling the other processes failed", server_id)

    async def _heard(self, server_id: str) -> None:
        log.debug("upstream %s: another process saw it announce a change", server_id)
        self._catalog.peer_noticed(server_id)
