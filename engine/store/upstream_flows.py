"""Upstream authorizations in progress (table `upstream_auth_flows`), shared by every replica.

The replica that starts an authorization (`begin`) runs the SDK's flow: the PKCE verifier
never leaves its memory. The upstream's callback may reach any replica: it `claim`s the row
by the URL's `state` (stored as a SHA-256 digest, so the table cannot be replayed from) in one
conditional UPDATE, so a state is used once even when two replicas race, and leaves the
callback's code (or error) there, AES-GCM encrypted with the row named as associated data.
The starting replica picks it up (`callback`), exchanges the code, and records the outcome
(`finish`), which the callback's page waits for (`outcome`). A row lives `FLOW_TTL_S`; a newer
`begin` for the same credential deletes the unclaimed older one (its URL stops working).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.sql.elements import ColumnElement

from engine.store.db import now_utc, read, write
from engine.store.schema import upstream_auth_flows as flows
from engine.store.secrets import Cipher

FLOW_TTL_S: Final = 600.0
"""How long an authorization URL stays usable: its state is refused after that."""
KEEP_FINISHED_S: Final = 60.0
"""Beyond its expiry a row is kept this long, so the callback's page can still read how it
ended; then any `begin` deletes it."""


@dataclass(frozen=True)
class ClaimedFlow:
    """The flow a callback's state belongs to, just claimed by that callback."""

    server_id: str
    person_id: int | None
    return_to: str


@dataclass(frozen=True)
class FlowOutcome:
    finished: bool
    error: str | None


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class UpstreamFlowStore:
    def __init__(
        self, engine: AsyncEngine, cipher: Cipher, *, clock: Callable[[], datetime] = now_utc
    ) -> None:
        self._engine, self._cipher, self._now = engine, cipher, clock

    def __repr__(self) -> str:
        return "UpstreamFlowStore()"

    async def begin(
        self, state: str, server_id: str, person_id: int | None, return_to: str
    ) -> None:
        """Record a flow whose authorization URL carries `state`; the same credential's
        unclaimed flows are dropped (replaced), as are long-expired rows."""
        now = self._now()
        async with write(self._engine) as conn:
            await conn.execute(
                delete(flows).where(
                    (flows.c.expires_at < now - timedelta(seconds=KEEP_FINISHED_S))
                    | (_credential(server_id, person_id) & flows.c.claimed_at.is_(None))
                )
            )
            await conn.execute(
                insert(flows).values(
                    state_hash=state_hash(state),
                    server_id=server_id,
                    person_id=person_id,
                    return_to=return_to,
                    created_at=now,
                    expires_at=now + timedelta(seconds=FLOW_TTL_S),
                )
            )

    async def pending(self, state: str) -> ClaimedFlow | None:
        """The unexpired, unclaimed flow of `state` (to check who may finish it); None if
        unknown, used or expired."""
        async with read(self._engine) as conn:
            row = (
                await conn.execute(select(flows).where(self._claimable(state_hash(state))))
            ).first()
        return None if row is None else ClaimedFlow(row.server_id, row.person_id, row.return_to)

    async def claim(self, state: str, callback: str) -> bool:
        """Use `state` once: store the callback's `callback` (JSON: code or error) for the
        starting replica. False if unknown, used already (by any replica) or expired."""
        digest = state_hash(state)
        sealed = self._cipher.encrypt(callback, _aad(digest))
        async with write(self._engine) as conn:
            done = await conn.execute(
                update(flows)
                .where(self._claimable(digest))
                .values(claimed_at=self._now(), callback_enc=sealed)
            )
        return bool(done.rowcount == 1)

    async def callback(self, state: str) -> str | None:
        """The starting replica's poll: the claimed callback (decrypted), None while it has
        not come. Raises LookupError once the row is gone (replaced or expired)."""
        digest = state_hash(state)
        async with read(self._engine) as conn:
            row = (
                await conn.execute(
                    select(flows.c.callback_enc, flows.c.expires_at).where(
                        flows.c.state_hash == digest
                    )
                )
            ).first()
        if row is None:
            raise LookupError("replaced by a newer authorization")
        if row.callback_enc is None:
            if row.expires_at <= self._now():
                raise LookupError("the authorization was not completed in time")
            return None
        return self._cipher.decrypt_text(row.callback_enc, _aad(digest))

    async def finish(self, state: str, error: str | None) -> None:
        """Record how the flow ended; the code is forgotten."""
        async with write(self._engine) as conn:
            await conn.execute(
                update(flows)
                .where(flows.c.state_hash == state_hash(state))
                .values(finished_at=self._now(), error=error, callback_enc=None)
            )

    async def outcome(self, state: str) -> FlowOutcome:
        async with read(self._engine) as conn:
            row = (
                await conn.execute(
                    select(flows.c.finished_at, flows.c.error).where(
                        flows.c.state_hash == state_hash(state)
                    )
                )
            ).first()
        if row is None:
            return FlowOutcome(True, "the authorization was replaced or expired")
        return FlowOutcome(row.finished_at is not None, row.error)

    async def latest(self, server_id: str, person_id: int | None) -> FlowOutcome | None:
        """How the newest flow of a credential stands, whichever replica runs it; None if
        there is none (or it was cleaned up)."""
        async with read(self._engine) as conn:
            row = (
                await conn.execute(
                    select(flows.c.finished_at, flows.c.error, flows.c.expires_at)
                    .where(_credential(server_id, person_id))
                    .order_by(flows.c.created_at.desc())
                    .limit(1)
                )
            ).first()
        if row is None:
            return None
        if row.finished_at is None and row.expires_at <= self._now():
            return FlowOutcome(True, "the authorization was not completed in time")
        return FlowOutcome(row.finished_at is not None, row.error)

    def _claimable(self, digest: str) -> ColumnElement[bool]:
        return (
            (flows.c.state_hash == digest)
            & flows.c.claimed_at.is_(None)
            & (flows.c.expires_at > self._now())
        )


def _credential(server_id: str, person_id: int | None) -> ColumnElement[bool]:
    person = flows.c.person_id.is_(None) if person_id is None else flows.c.person_id == person_id
    return (flows.c.server_id == server_id) & person


def _aad(digest: str) -> str:
    """Associated data: the code is bound to its flow's row."""
    return f"upstream_auth_flows:{digest}"
