"""Following configuration writes made by other processes sharing the store.

With `[admin] config = "store"` several processes (`serve --workers N`, replicas on one
PostgreSQL) run the same stored portals and servers. A write through one of them (admin API,
`codemode import`) is applied there at once; every other process hears of it through
`engine.store.changes` and runs the store's config with `Gateway.apply`, so its connected
clients get `list_changed` like the writer's. The writer hears of its own write too: the
stored config then equals the running one and nothing is applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from engine.config import ConfigError
from engine.config_store import compose, objects
from engine.store.changes import ConfigChanges
from engine.store.db import StoreUnavailable

if TYPE_CHECKING:
    from engine.gateway import Gateway

log = logging.getLogger("codemode.reload")
FOLLOWER = "another process (store)"


class ConfigFollower:
    """A background task applying the store's config after writes elsewhere (see module)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        store = self._gateway.store
        if store is None or not self._gateway.config.config_in_store or self._task:
            return
        feed = ConfigChanges(store.engine)
        self._task = asyncio.get_running_loop().create_task(feed.follow(self._on_change))

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _on_change(self) -> None:
        try:
            async with self._gateway.config_lock:
                await self.catch_up()
        except Exception:  # a bug here must not end the following: logged, next change retries
            log.exception("config: following the store's configuration failed")

    async def catch_up(self) -> bool:
        """Apply the store's config if it differs from the running one; whether it did.
        The caller holds `gateway.config_lock`, so no write of this process is half done."""
        gateway = self._gateway
        store = gateway.store
        if store is None:
            return False
        try:
            stored = await store.configs.load()
        except StoreUnavailable as exc:
            log.warning("config: cannot read the store's configuration now: %s", exc)
            return False
        current = gateway.config
        try:
            wanted = compose(current, stored)
        except ConfigError as exc:
            log.error("config: the store's configuration is not valid here, kept ours: %s", exc)
            return False
        if objects(wanted) == objects(current):
            return False
        try:
            await gateway.apply(wanted, by=FOLLOWER)
        except ConfigError as exc:
            log.error("config: cannot apply the store's configuration, kept ours: %s", exc)
            return False
        return True
