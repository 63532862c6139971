"""Which `on_behalf` servers of a portal each person was already shown (on the server
selection page) or asked to connect (table `connect_prompts`). Servers not in that set are
the new ones a person is asked about once, together (`engine.server.new_servers`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.store.db import now_utc, read, write
from engine.store.schema import connect_prompts as prompts


class ConnectPromptStore:
    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = now_utc) -> None:
        self._engine = engine
        self._now = clock

    async def asked(self, person_id: int, portal_id: str) -> frozenset[str]:
        """The servers of `portal_id` this person was shown or asked about."""
        query = select(prompts.c.server_id).where(
            prompts.c.person_id == person_id, prompts.c.portal_id == portal_id
        )
        async with read(self._engine) as conn:
            return frozenset((await conn.execute(query)).scalars())

    async def record(self, person_id: int, portal_id: str, server_ids: Iterable[str]) -> bool:
        """Remember these servers as asked about; whether any was not yet (the caller asks
        only then, so two requests at once ask once)."""
        wanted = set(server_ids)
        if not wanted:
            return False
        async with write(self._engine) as conn:  # holds the write lock: no race between the two
            query = select(prompts.c.server_id).where(
                prompts.c.person_id == person_id, prompts.c.portal_id == portal_id
            )
            new = wanted - set((await conn.execute(query)).scalars())
            if new:
                now = self._now()
                rows = [
                    {
                        "person_id": person_id,
                        "portal_id": portal_id,
                        "server_id": s,
                        "asked_at": now,
                    }
                    for s in sorted(new)
                ]
                await conn.execute(insert(prompts), rows)
        return bool(new)
