"""Which servers a person turned off for one client grant in one portal (table
`client_server_selections`). A row is a disabled server; by default every server the
person may use is on. Rows are deleted with their grant (revoked grants are purged)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.store.db import now_utc, read, write
from engine.store.schema import client_server_selections as table


class SelectionStore:
    """Read and change the servers disabled per (grant, portal)."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = now_utc) -> None:
        self._engine = engine
        self._now = clock

    def __repr__(self) -> str:
        return f"SelectionStore({self._engine.url.render_as_string(hide_password=True)})"

    async def disabled(self, grant_id: str, portal_id: str) -> frozenset[str]:
        """The ids of the servers turned off for this grant in this portal."""
        statement = select(table.c.server_id).where(
            table.c.grant_id == grant_id, table.c.portal_id == portal_id
        )
        async with read(self._engine) as conn:
            return frozenset((await conn.execute(statement)).scalars())

    async def set_enabled(
        self, grant_id: str, portal_id: str, server_id: str, enabled: bool
    ) -> bool:
        """Turn `server_id` on or off for the grant; whether that changed anything."""
        where = (
            table.c.grant_id == grant_id,
            table.c.portal_id == portal_id,
            table.c.server_id == server_id,
        )
        async with write(self._engine) as conn:
            present = (await conn.execute(select(table.c.server_id).where(*where))).first()
            if enabled:
                if present is None:
                    return False
                await conn.execute(delete(table).where(*where))
                return True
            if present is not None:
                return False
            await conn.execute(
                insert(table).values(
                    grant_id=grant_id,
                    portal_id=portal_id,
                    server_id=server_id,
                    disabled_at=self._now(),
                )
            )
            return True
