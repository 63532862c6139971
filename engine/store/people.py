"""People who signed in: one row per (issuer, subject), with the email and name their
identity provider gave last and when they were last seen."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.store.db import now_utc, read, write
from engine.store.schema import people

# `last_seen_at` is written at most this often per person.
LAST_SEEN_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class Person:
    id: int
    issuer: str
    sub: str
    email: str | None
    name: str | None
    created_at: datetime
    last_seen_at: datetime
    groups: tuple[str, ...] = field(default=())
    """The groups the identity provider gave at the last sign-in."""


def _groups(text: str | None) -> tuple[str, ...]:
    if not text:
        return ()
    value = json.loads(text)
    return tuple(str(g) for g in value) if isinstance(value, list) else ()


def _person(row: Any) -> Person:
    return Person(
        row.id,
        row.issuer,
        row.sub,
        row.email,
        row.name,
        row.created_at,
        row.last_seen_at,
        _groups(row.groups_json),
    )


class PeopleStore:
    """Lookups and updates of the `people` table."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = now_utc) -> None:
        self._engine = engine
        self._now = clock

    def __repr__(self) -> str:
        return f"PeopleStore({self._engine.url.render_as_string(hide_password=True)})"

    async def sign_in(
        self,
        issuer: str,
        sub: str,
        *,
        email: str | None = None,
        name: str | None = None,
        groups: Iterable[str] | None = None,
    ) -> Person:
        """The person `sub` at `issuer`, created on first sign-in; their email, name and
        groups are updated to what the provider says now, and they are marked seen."""
        now = self._now()
        email = email.strip().lower() if email else None
        values: dict[str, Any] = {"email": email, "name": name, "last_seen_at": now}
        values["groups_json"] = json.dumps(sorted({str(g) for g in groups or ()}))
        key = (people.c.issuer == issuer, people.c.sub == sub)
        async with write(self._engine) as conn:
            done = await conn.execute(update(people).where(*key).values(values))
            if done.rowcount == 0:
                await conn.execute(
                    insert(people).values(issuer=issuer, sub=sub, created_at=now, **values)
                )
            row = (await conn.execute(select(people).where(*key))).one()
        return _person(row)

    async def get(self, person_id: int) -> Person | None:
        async with read(self._engine) as conn:
            row = (await conn.execute(select(people).where(people.c.id == person_id))).one_or_none()
        return None if row is None else _person(row)

    async def by_sub(self, issuer: str, sub: str) -> Person | None:
        async with read(self._engine) as conn:
            row = (
                await conn.execute(
                    select(people).where(people.c.issuer == issuer, people.c.sub == sub)
                )
            ).one_or_none()
        return None if row is None else _person(row)

    async def by_email(self, email: str) -> Person | None:
        """The person last seen with this email (compared without case), if any."""
        async with read(self._engine) as conn:
            row = (
                await conn.execute(
                    select(people)
                    .where(people.c.email == email.lower())
                    .order_by(people.c.last_seen_at.desc())
                    .limit(1)
                )
            ).one_or_none()
        return None if row is None else _person(row)

    async def seen(self, person_id: int) -> None:
        """Mark a person seen now (written at most once a minute)."""
        now = self._now()
        async with write(self._engine) as conn:
            await conn.execute(
                update(people)
                .where(
                    people.c.id == person_id,
                    people.c.last_seen_at < now - LAST_SEEN_RESOLUTION,
                )
                .values(last_seen_at=now)
            )
