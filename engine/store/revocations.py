"""Which of a set of access tokens are no longer valid, in one read: for ending the open
streams of a grant that was revoked (sign-out, `/revoke`, an admin) by any process or
replica (`engine.server.stream_guard`). Tokens are named by their digest (`token_hash`)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.store.db import read
from engine.store.schema import grants, tokens


async def invalid_among(engine: AsyncEngine, digests: Collection[str], now: datetime) -> set[str]:
    """The digests among `digests` whose token is revoked, whose grant is revoked, or that
    expired by `now`. A digest the database does not know is not reported (its request was
    never let in). Raises StoreUnavailable in an outage."""
    if not digests:
        return set()
    statement = (
        select(tokens.c.token_hash)
        .join(grants, grants.c.id == tokens.c.grant_id)
        .where(
            tokens.c.token_hash.in_(list(digests)),
            or_(
                tokens.c.revoked_at.is_not(None),
                grants.c.revoked_at.is_not(None),
                tokens.c.expires_at <= now,
            ),
        )
    )
    async with read(engine) as conn:
        return set((await conn.execute(statement)).scalars())
