"""Which of a set of access tokens are no longer valid, in one read: for ending the open
streams of a grant that was revoked (sign-out, `/revoke`, an admin) by any process or
replica (`engine.server.stream_guard`). Tokens are named by their digest (`token_hash`)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.store.db import read
from engine.store.schema import grants, tokens


@dataclass(frozen=True)
class Invalid:
    """Digests of tokens no longer valid, by why: revocation ends everything a token opened;
    expiry only what carries no work (see `engine.server.stream_guard`)."""

    revoked: frozenset[str]
    """The token or its grant was revoked."""
    expired: frozenset[str]
    """Expired, not revoked."""

    def __bool__(self) -> bool:
        return bool(self.revoked or self.expired)


async def invalid_among(engine: AsyncEngine, digests: Collection[str], now: datetime) -> Invalid:
    """Which of `digests` name a token that is revoked, whose grant is revoked, or that
    expired by `now`. A digest the database does not know is not reported (its request was
    never let in). Raises StoreUnavailable in an outage."""
    if not digests:
        return Invalid(frozenset(), frozenset())
    statement = (
        select(tokens.c.token_hash, tokens.c.revoked_at, grants.c.revoked_at.label("grant_gone"))
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
        rows = (await conn.execute(statement)).all()
    revoked = frozenset(r.token_hash for r in rows if r.revoked_at or r.grant_gone)
    return Invalid(revoked, frozenset(r.token_hash for r in rows) - revoked)
