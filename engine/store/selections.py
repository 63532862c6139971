"""Which servers a person turned off for one client grant in one portal (table
`client_server_selections`): one row per (grant, portal) holding the ids turned off, so the
request path reads it with one point read (`PointReader`). No row: every server the person
may use is on. Rows are deleted with their grant (revoked grants are purged)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.store.db import PointReader, now_utc, read, write
from engine.store.schema import client_server_selections as table


def _ids(text: str | None) -> frozenset[str]:
    value = json.loads(text) if text else []
    return frozenset(str(v) for v in value) if isinstance(value, list) else frozenset()


class SelectionStore:
    """Read and change the servers disabled per (grant, portal)."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = now_utc) -> None:
        self._engine = engine
        self._now = clock
        self._reader = PointReader(engine)

    def __repr__(self) -> str:
        return f"SelectionStore({self._engine.url.render_as_string(hide_password=True)})"

    def close(self) -> None:
        self._reader.dispose()

    async def disabled(self, grant_id: str, portal_id: str) -> frozenset[str]:
        """The ids of the servers turned off for this grant in this portal."""
        row = await self._reader.one_or_none(
            select(table.c.disabled_json).where(
                table.c.grant_id == grant_id, table.c.portal_id == portal_id
            )
        )
        return _ids(row.disabled_json if row is not None else None)

    async def disabled_among(
        self, grant_ids: Collection[str], portal_id: str
    ) -> dict[str, frozenset[str]]:
        """The servers turned off for each of `grant_ids` in this portal, in one read (a grant
        with every server on is left out). Raises StoreUnavailable in an outage."""
        if not grant_ids:
            return {}
        statement = select(table.c.grant_id, table.c.disabled_json).where(
            table.c.grant_id.in_(list(grant_ids)), table.c.portal_id == portal_id
        )
        async with read(self._engine) as conn:
            rows = (await conn.execute(statement)).all()
        return {row.grant_id: _ids(row.disabled_json) for row in rows}

    async def set_enabled(
        self, grant_id: str, portal_id: str, server_id: str, enabled: bool
    ) -> bool:
        """Turn `server_id` on or off for the grant; whether that changed anything."""
        where = (table.c.grant_id == grant_id, table.c.portal_id == portal_id)
        async with write(self._engine) as conn:
            row = (await conn.execute(select(table.c.disabled_json).where(*where))).first()
            before = _ids(row.disabled_json if row is not None else None)
            after = before - {server_id} if enabled else before | {server_id}
            if after == before:
                return False
            if not after:
                await conn.execute(delete(table).where(*where))
                return True
            values = {"disabled_json": json.dumps(sorted(after)), "updated_at": self._now()}
            if row is None:
                await conn.execute(
                    insert(table).values(grant_id=grant_id, portal_id=portal_id, **values)
                )
            else:
                await conn.execute(update(table).where(*where).values(**values))
            return True
