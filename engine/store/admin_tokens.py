"""Named admin tokens: who may call the admin API (`/client/v4/...`, `/api/...`) and whether
they may only read or also write.

A token is `cma_` + `secrets.token_urlsafe(32)`, handed out once by `create` and stored only
as its SHA-256 hex digest; `list` shows names and permissions, never a secret. Revoking keeps
the row (the name stays taken, so `created_by` in old records keeps meaning one token).
The name `env` is reserved for the `CODEMODE_ADMIN_TOKEN` environment token.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from engine.store.db import PointReader, now_utc, read, write
from engine.store.schema import admin_tokens

Permission = Literal["read", "write"]
TOKEN_PREFIX = "cma_"
ENV_TOKEN_NAME = "env"
"""The name the `CODEMODE_ADMIN_TOKEN` token goes by (write permission; reserved here)."""
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_NAME = re.compile(NAME_PATTERN)


class AdminTokenError(Exception):
    """A name that is not allowed, already taken, or not there to revoke."""


@dataclass(frozen=True)
class AdminToken:
    name: str
    permission: Permission
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def can_write(self) -> bool:
        return self.permission == "write"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _token(row: Any) -> AdminToken:
    permission: Permission = "write" if row.permission == "write" else "read"
    return AdminToken(row.name, permission, row.created_at, row.revoked_at)


class AdminTokenStore:
    """Create, list, revoke and verify admin tokens (table `admin_tokens`)."""

    def __init__(self, engine: AsyncEngine, *, clock: Callable[[], datetime] = now_utc) -> None:
        self._engine = engine
        self._now = clock
        self._reader = PointReader(engine)

    def __repr__(self) -> str:
        return f"AdminTokenStore({self._engine.url.render_as_string(hide_password=True)})"

    async def create(self, name: str, permission: Permission) -> str:
        """A new token named `name`; the only time its value exists outside the caller."""
        if not _NAME.fullmatch(name):
            raise AdminTokenError(
                f"admin token name {name!r}: use 1 to 64 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit"
            )
        if name == ENV_TOKEN_NAME:
            raise AdminTokenError(
                f"the name {ENV_TOKEN_NAME!r} is reserved for the CODEMODE_ADMIN_TOKEN token"
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        values = {
            "name": name,
            "sha256": token_digest(token),
            "permission": permission,
            "created_at": self._now(),
        }
        try:
            async with write(self._engine) as conn:
                await conn.execute(insert(admin_tokens).values(values))
        except IntegrityError:
            raise AdminTokenError(
                f"an admin token named {name!r} exists already (revoked names stay taken)"
            ) from None
        return token

    async def list(self) -> list[AdminToken]:
        async with read(self._engine) as conn:
            rows = await conn.execute(select(admin_tokens).order_by(admin_tokens.c.name))
            return [_token(row) for row in rows]

    async def revoke(self, name: str) -> AdminToken:
        async with write(self._engine) as conn:
            row = (
                await conn.execute(select(admin_tokens).where(admin_tokens.c.name == name))
            ).one_or_none()
            if row is None:
                raise AdminTokenError(f"no admin token named {name!r}")
            if row.revoked_at is not None:
                return _token(row)
            now = self._now()
            await conn.execute(
                update(admin_tokens).where(admin_tokens.c.name == name).values(revoked_at=now)
            )
            return AdminToken(row.name, _token(row).permission, row.created_at, now)

    async def verify(self, token: str) -> AdminToken | None:
        """The live (not revoked) token with this value, or None."""
        digest = token_digest(token)
        row = await self._reader.one_or_none(
            select(admin_tokens).where(admin_tokens.c.sha256 == digest)
        )
        if row is None or row.revoked_at is not None:
            return None
        return _token(row)

    def close(self) -> None:
        self._reader.dispose()
