"""Upstream OAuth credentials (table `upstream_oauth_states`): per (server, person) the tokens
and the client registration the portal holds at that server's authorization server, each
AES-GCM encrypted with associated data naming its row, and the access token's expiry.
`person_id` None is the server's one admin credential.

`storage(server_id, person_id)` is the mcp SDK's `TokenStorage` over one row. The SDK keeps
only `expires_in`; `get_tokens` gives it back as the seconds left, from `expires_at`.

`StoredTokens.refresh_turn()` makes the processes and replicas sharing the database refresh a
credential one at a time (refresh tokens rotate; one sent twice is a replay): a turn is taken
with one conditional UPDATE of the row, and lapses after TURN_S if its holder died."""

from __future__ import annotations

import math
import secrets
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

import anyio
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from sqlalchemy import delete as sql_delete
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from engine.store.db import now_utc, read, write
from engine.store.schema import upstream_oauth_states as states
from engine.store.secrets import Cipher

TURN_S: Final = 30.0
"""How long a refresh turn lasts at most: the refresh request's own timeout. A holder that
died mid-refresh delays the others this long, once."""
TURN_POLL_S: Final = 0.1
"""How often a process waiting for its turn looks again."""


@dataclass(frozen=True)
class UpstreamCredential:
    """One row, decrypted."""

    tokens: OAuthToken | None
    client_info: OAuthClientInformationFull | None
    expires_at: datetime | None
    connected_at: datetime | None = None
    """When a person last authorized it (not a refresh): a replica waiting for a person to
    connect watches this."""
    expired_at: datetime | None = None
    """When its refresh was refused; None once it works again."""


class UpstreamTokenStore:
    def __init__(
        self, engine: AsyncEngine, cipher: Cipher, *, clock: Callable[[], datetime] = now_utc
    ) -> None:
        self._engine = engine
        self._cipher = cipher
        self._now = clock

    def __repr__(self) -> str:
        return "UpstreamTokenStore()"

    def now(self) -> datetime:
        return self._now()

    def storage(self, server_id: str, person_id: int | None = None) -> StoredTokens:
        return StoredTokens(self, server_id, person_id)

    async def load(self, server_id: str, person_id: int | None = None) -> UpstreamCredential:
        async with read(self._engine) as conn:
            row = (await conn.execute(select(states).where(_row(server_id, person_id)))).first()
        if row is None:
            return UpstreamCredential(None, None, None)
        where = _where(server_id, person_id)
        tokens = None
        if row.tokens_enc is not None:
            text = self._cipher.decrypt_text(row.tokens_enc, f"tokens:{where}")
            tokens = OAuthToken.model_validate_json(text)
        client = None
        if row.client_info_enc is not None:
            text = self._cipher.decrypt_text(row.client_info_enc, f"client_info:{where}")
            client = OAuthClientInformationFull.model_validate_json(text)
        return UpstreamCredential(tokens, client, row.expires_at, row.connected_at, row.expired_at)

    async def set_tokens(
        self, server_id: str, person_id: int | None, tokens: OAuthToken
    ) -> datetime | None:
        """Store `tokens`; returns their expiry (`expires_in` counted from now)."""
        expires_at = None
        if tokens.expires_in is not None:
            expires_at = self._now() + timedelta(seconds=tokens.expires_in)
        sealed = self._cipher.encrypt(
            tokens.model_dump_json(), f"tokens:{_where(server_id, person_id)}"
        )
        await self._put(
            server_id, person_id, tokens_enc=sealed, expires_at=expires_at, expired_at=None
        )
        return expires_at

    async def mark_connected(self, server_id: str, person_id: int | None) -> None:
        """A person (or admin) has just authorized this credential anew."""
        await self._put(server_id, person_id, connected_at=self._now(), expired_at=None)

    async def mark_expired(self, server_id: str, person_id: int | None) -> None:
        """Its refresh was refused: every replica's page says "expired" until it is
        connected again (or a later refresh works)."""
        async with write(self._engine) as conn:
            await conn.execute(
                update(states).where(_row(server_id, person_id)).values(expired_at=self._now())
            )

    async def set_client_info(
        self, server_id: str, person_id: int | None, client: OAuthClientInformationFull
    ) -> None:
        sealed = self._cipher.encrypt(
            client.model_dump_json(), f"client_info:{_where(server_id, person_id)}"
        )
        await self._put(server_id, person_id, client_info_enc=sealed)

    async def delete(self, server_id: str, person_id: int | None = None) -> UpstreamCredential:
        """Forget the row; returns what it held (to revoke the tokens at the server)."""
        held = await self.load(server_id, person_id)
        async with write(self._engine) as conn:
            await conn.execute(sql_delete(states).where(_row(server_id, person_id)))
        return held

    async def take_turn(self, server_id: str, person_id: int | None, holder: str) -> bool:
        """Take the refresh turn of the row for `holder`, unless another holds a turn that has
        not lapsed. True also when there is no row: there is nobody to take turns with."""
        now = self._now()
        free = states.c.refreshing_until.is_(None) | (states.c.refreshing_until < now)
        async with write(self._engine) as conn:
            taken = await conn.execute(
                update(states)
                .where(_row(server_id, person_id), free)
                .values(refreshing_by=holder, refreshing_until=now + timedelta(seconds=TURN_S))
            )
            if taken.rowcount == 1:
                return True
            found = await conn.execute(select(states.c.id).where(_row(server_id, person_id)))
            return found.first() is None

    async def end_turn(self, server_id: str, person_id: int | None, holder: str) -> None:
        async with write(self._engine) as conn:
            await conn.execute(
                update(states)
                .where(_row(server_id, person_id), states.c.refreshing_by == holder)
                .values(refreshing_by=None, refreshing_until=None)
            )

    async def _put(self, server_id: str, person_id: int | None, **values: object) -> None:
        now = self._now()
        async with write(self._engine) as conn:
            found = await conn.execute(
                update(states).where(_row(server_id, person_id)).values(updated_at=now, **values)
            )
            if found.rowcount == 0:
                await conn.execute(
                    insert(states).values(
                        server_id=server_id,
                        person_id=person_id,
                        created_at=now,
                        updated_at=now,
                        **values,
                    )
                )


class StoredTokens:
    """The SDK's `TokenStorage` over one (server, person) row."""

    def __init__(self, store: UpstreamTokenStore, server_id: str, person_id: int | None) -> None:
        self._store, self.server_id, self.person_id = store, server_id, person_id
        self.expires_at: datetime | None = None

    async def get_tokens(self) -> OAuthToken | None:
        held = await self._store.load(self.server_id, self.person_id)
        self.expires_at = held.expires_at
        if held.tokens is None or held.expires_at is None:
            return held.tokens
        left = (held.expires_at - self._store.now()).total_seconds()
        return held.tokens.model_copy(update={"expires_in": max(0, math.floor(left))})

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.expires_at = await self._store.set_tokens(self.server_id, self.person_id, tokens)

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return (await self._store.load(self.server_id, self.person_id)).client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        await self._store.set_client_info(self.server_id, self.person_id, client_info)

    @asynccontextmanager
    async def refresh_turn(self) -> AsyncIterator[None]:
        """Wait for this credential's refresh turn among every process using the store (at
        most TURN_S: then the holder is taken to have died), hold it inside the block."""
        holder = secrets.token_hex(16)
        key = (self.server_id, self.person_id)
        with anyio.move_on_after(TURN_S):
            while not await self._store.take_turn(*key, holder):  # noqa: ASYNC110 (other processes)
                await anyio.sleep(TURN_POLL_S)
        try:
            yield
        finally:
            with anyio.CancelScope(shield=True):
                await self._store.end_turn(*key, holder)


def _row(server_id: str, person_id: int | None) -> ColumnElement[bool]:
    person = states.c.person_id.is_(None) if person_id is None else states.c.person_id == person_id
    return (states.c.server_id == server_id) & person


def _where(server_id: str, person_id: int | None) -> str:
    """Associated data: binds a ciphertext to its row (a token cannot be moved to another)."""
    return f"upstream_oauth_states:{server_id}:{'admin' if person_id is None else person_id}"
