"""The OAuth grant store: what the portal's authorization server keeps about MCP clients.

A *grant* is one person's consent for one client on one portal (the RFC 8707 resource) with
some scopes. An authorization code, and then access and refresh tokens, are issued under a
grant; revoking the grant refuses all of them. Codes and tokens are opaque random strings
(`secrets.token_urlsafe(32)`) handed out once and stored only as SHA-256 hex digests.

- Codes are single use, taken atomically; presenting a used code again revokes its grant (the
  tokens issued from it included) and gets nothing.
- Refresh tokens rotate: each use consumes the old one; presenting a consumed one again
  revokes the grant.
- `verify_access_token` keeps verified tokens in a small in-process cache for at most
  `cache_ttl_s` (0.5 s by default), so a revocation made by another process is seen within
  that time and one made by this process at once.

No function here logs, and no `repr` or error message shows, a code, token or secret.

Clients, codes, tokens and revocation stay one module: they are the life of one grant, and
the rules that keep it safe (a replayed code or refresh token revokes everything issued under
the grant) cross all of them in one transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, and_, delete, exists, func, insert, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from engine.store.db import PointReader, StoreUnavailable, now_utc, read, write
from engine.store.schema import (
    authorization_codes,
    grants,
    oauth_clients,
    people,
    tokens,
    upstream_oauth_states,
)
from engine.store.secrets import Cipher

DEFAULT_CACHE_TTL_S = 0.5
DEFAULT_CACHE_SIZE = 10_000
CODE_TTL_S = 300
MAX_CLIENT_METADATA_BYTES = 16_384
# `last_used_at` is written at most this often per grant (not on every request).
LAST_USED_RESOLUTION = timedelta(seconds=60)

TokenKind = Literal["access", "refresh"]
log = logging.getLogger(__name__)


class GrantError(Exception):
    """A grant store call cannot be done as asked (unknown client or person, metadata too
    large). Refused codes and tokens are not errors: those calls return None."""


def token_hash(token: str) -> str:
    """How a code or token is stored and looked up: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(32)


def _scopes(value: str) -> list[str]:
    return value.split()


def _join(scopes: Iterable[str]) -> str:
    return " ".join(scopes)


@dataclass(frozen=True)
class ClientRecord:
    """A registered MCP client: its RFC 7591 metadata (without the secret) and secret."""

    client_id: str
    client_name: str | None
    metadata: Mapping[str, Any]
    created_at: datetime
    client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class IssuedCode:
    """A new authorization code (give `code` to the client once) and its grant."""

    code: str = field(repr=False)
    grant_id: str
    expires_at: datetime


@dataclass(frozen=True)
class AuthorizationCode:
    """What an unused authorization code was issued for (the code itself is not kept)."""

    grant_id: str
    client_id: str
    person_id: int
    resource: str
    scopes: list[str]
    redirect_uri: str
    redirect_uri_provided_explicitly: bool
    code_challenge: str
    expires_at: datetime


@dataclass(frozen=True)
class TokenPair:
    """Tokens for the client (each shown once): an access token and its refresh token."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    grant_id: str
    client_id: str
    scopes: list[str]
    access_expires_at: datetime
    refresh_expires_at: datetime


@dataclass(frozen=True)
class TokenInfo:
    """What a valid token grants: the portal (`resource`), client, person and scopes."""

    kind: TokenKind
    grant_id: str
    client_id: str
    person_id: int
    resource: str
    scopes: list[str]
    expires_at: datetime


@dataclass(frozen=True)
class ConnectedClient:
    """One of a person's live grants, for the homepage."""

    grant_id: str
    client_id: str
    client_name: str
    resource: str
    authorized_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class RevocationSummary:
    """What `revoke_person` revoked: grants per client name, and upstream states removed."""

    clients: Mapping[str, int]
    upstream_states_removed: int

    @property
    def sessions_revoked(self) -> int:
        return sum(self.clients.values())

    def describe(self) -> str:
        """E.g. "revoked 3 client sessions (Claude Code ×2, Cursor), removed 0 server
        connections"."""
        names = ", ".join(
            name if count == 1 else f"{name} ×{count}"
            for name, count in sorted(self.clients.items(), key=lambda kv: (-kv[1], kv[0]))
        )
        n = self.sessions_revoked
        head = f"revoked {n} client session{'' if n == 1 else 's'}"
        m = self.upstream_states_removed
        tail = f"removed {m} server connection{'' if m == 1 else 's'}"
        return f"{head}{f' ({names})' if names else ''}, {tail}"


class _Cache:
    """Verified access tokens by hash, each kept `ttl_s` (monotonic time), least recently
    used evicted past `size`."""

    def __init__(self, ttl_s: float, size: int) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._items: OrderedDict[str, tuple[float, TokenInfo]] = OrderedDict()

    def get(self, key: str) -> TokenInfo | None:
        item = self._items.get(key)
        if item is None:
            return None
        if time.monotonic() - item[0] > self.ttl_s:
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return item[1]

    def put(self, key: str, info: TokenInfo) -> None:
        if self.ttl_s <= 0:
            return
        self._items[key] = (time.monotonic(), info)
        self._items.move_to_end(key)
        while len(self._items) > self.size:
            self._items.popitem(last=False)

    def drop(self, key: str) -> None:
        self._items.pop(key, None)

    def drop_grants(self, grant_ids: Iterable[str]) -> None:
        gone = set(grant_ids)
        for key in [k for k, (_, info) in self._items.items() if info.grant_id in gone]:
            del self._items[key]

    def __len__(self) -> int:
        return len(self._items)


class GrantStore:
    """OAuth clients, grants, authorization codes and tokens (see the module docstring)."""

    def __init__(
        self,
        engine: AsyncEngine,
        cipher: Cipher,
        *,
        access_ttl_s: int = 3600,
        refresh_ttl_s: int = 2_592_000,
        clock: Callable[[], datetime] = now_utc,
        cache_ttl_s: float = DEFAULT_CACHE_TTL_S,
        cache_size: int = DEFAULT_CACHE_SIZE,
    ) -> None:
        if cache_ttl_s > 1:
            raise ValueError("cache_ttl_s must be at most 1 s: revocation must be seen within 1 s")
        self._engine = engine
        self._cipher = cipher
        self.access_ttl = timedelta(seconds=access_ttl_s)
        self.refresh_ttl = timedelta(seconds=refresh_ttl_s)
        self._now = clock
        self._cache = _Cache(cache_ttl_s, cache_size)
        self._reader = PointReader(engine)
        self._background: set[asyncio.Task[None]] = set()
        self._touching: set[str] = set()

    def __repr__(self) -> str:
        return f"GrantStore({self._engine.url.render_as_string(hide_password=True)})"

    # ------------------------------------------------------------------ clients

    async def register_client(
        self,
        client_id: str,
        metadata: Mapping[str, Any],
        *,
        client_secret: str | None = None,
    ) -> ClientRecord:
        """Save a client registered under `client_id` (RFC 7591 `metadata` as JSON, at most
        16 KiB; a `client_secret` key in it is ignored: pass the secret as `client_secret`,
        which is stored encrypted). Registering an existing id replaces its metadata."""
        meta = {k: v for k, v in metadata.items() if k != "client_secret"}
        text = json.dumps(meta, sort_keys=True, separators=(",", ":"), default=str)
        if len(text.encode()) > MAX_CLIENT_METADATA_BYTES:
            raise GrantError(
                f"client metadata is {len(text.encode())} bytes as JSON; at most "
                f"{MAX_CLIENT_METADATA_BYTES} are kept"
            )
        name = meta.get("client_name")
        name = name[:255] if isinstance(name, str) else None
        secret_enc = (
            None
            if client_secret is None
            else self._cipher.encrypt(client_secret, f"oauth_clients.client_secret:{client_id}")
        )
        now = self._now()
        values = {
            "client_name": name,
            "metadata_json": text,
            "client_secret_enc": secret_enc,
        }
        async with write(self._engine) as conn:
            done = await conn.execute(
                update(oauth_clients).where(oauth_clients.c.client_id == client_id).values(values)
            )
            if done.rowcount == 0:
                await conn.execute(
                    insert(oauth_clients).values(client_id=client_id, created_at=now, **values)
                )
            row = (
                await conn.execute(
                    select(oauth_clients.c.created_at).where(oauth_clients.c.client_id == client_id)
                )
            ).one()
        return ClientRecord(client_id, name, meta, row.created_at, client_secret)

    async def get_client(self, client_id: str) -> ClientRecord | None:
        """A registered client, its secret decrypted; None if unknown."""
        async with read(self._engine) as conn:
            row = (
                await conn.execute(
                    select(oauth_clients).where(oauth_clients.c.client_id == client_id)
                )
            ).one_or_none()
        if row is None:
            return None
        secret = (
            None
            if row.client_secret_enc is None
            else self._cipher.decrypt_text(
                row.client_secret_enc, f"oauth_clients.client_secret:{client_id}"
            )
        )
        return ClientRecord(
            row.client_id, row.client_name, json.loads(row.metadata_json), row.created_at, secret
        )

    # ------------------------------------------------------------------ codes

    async def save_authorization_code(
        self,
        *,
        client_id: str,
        person_id: int,
        resource: str,
        scopes: Iterable[str],
        redirect_uri: str,
        redirect_uri_provided_explicitly: bool,
        code_challenge: str,
        ttl_s: int = CODE_TTL_S,
    ) -> IssuedCode:
        """After the person consents: a new grant and its authorization code (valid `ttl_s`,
        5 minutes by default; single use)."""
        code = new_token()
        grant_id = secrets.token_urlsafe(12)
        now = self._now()
        scope_text = _join(scopes)
        expires = now + timedelta(seconds=ttl_s)
        async with write(self._engine) as conn:
            await self._check_refs(conn, client_id, person_id)
            await conn.execute(
                insert(grants).values(
                    id=grant_id,
                    resource=resource,
                    client_id=client_id,
                    person_id=person_id,
                    scopes=scope_text,
                    created_at=now,
                )
            )
            await conn.execute(
                insert(authorization_codes).values(
                    code_hash=token_hash(code),
                    grant_id=grant_id,
                    redirect_uri=redirect_uri,
                    redirect_uri_provided_explicitly=redirect_uri_provided_explicitly,
                    code_challenge=code_challenge,
                    scopes=scope_text,
                    expires_at=expires,
                )
            )
        return IssuedCode(code, grant_id, expires)

    async def _check_refs(self, conn: AsyncConnection, client_id: str, person_id: int) -> None:
        client = await conn.scalar(
            select(oauth_clients.c.client_id).where(oauth_clients.c.client_id == client_id)
        )
        if client is None:
            raise GrantError(f"no registered client with id {client_id!r}")
        person = await conn.scalar(select(people.c.id).where(people.c.id == person_id))
        if person is None:
            raise GrantError(f"no person with id {person_id} (save them with people.sign_in)")

    async def load_authorization_code(self, code: str, client_id: str) -> AuthorizationCode | None:
        """What an unused, unexpired `code` of `client_id` was issued for, without using it;
        None otherwise. A code already used revokes its grant here too (a replay)."""
        key = token_hash(code)
        async with read(self._engine) as conn:
            row = (
                await conn.execute(
                    select(authorization_codes, grants)
                    .join(grants, grants.c.id == authorization_codes.c.grant_id)
                    .where(authorization_codes.c.code_hash == key)
                )
            ).one_or_none()
        if row is None or row.client_id != client_id:
            return None
        if row.used_at is not None:
            await self.revoke_grant(row.grant_id, reason="code replayed")
            return None
        if row.revoked_at is not None or row.expires_at <= self._now():
            return None
        return AuthorizationCode(
            grant_id=row.grant_id,
            client_id=row.client_id,
            person_id=row.person_id,
            resource=row.resource,
            scopes=_scopes(row.scopes),
            redirect_uri=row.redirect_uri,
            redirect_uri_provided_explicitly=row.redirect_uri_provided_explicitly,
            code_challenge=row.code_challenge,
            expires_at=row.expires_at,
        )

    async def exchange_authorization_code(self, code: str, client_id: str) -> TokenPair | None:
        """Consume `code` (atomically: of two concurrent uses one wins) and issue the first
        access and refresh tokens of its grant. None if the code is unknown, not this
        client's, expired or its grant revoked; a code used before revokes its grant (and so
        every token issued from it) and gets None."""
        key = token_hash(code)
        now = self._now()
        async with write(self._engine) as conn:
            row = (
                await conn.execute(
                    select(
                        authorization_codes.c.grant_id,
                        authorization_codes.c.used_at,
                        authorization_codes.c.expires_at,
                        authorization_codes.c.scopes,
                        grants.c.client_id,
                        grants.c.revoked_at,
                    )
                    .join(grants, grants.c.id == authorization_codes.c.grant_id)
                    .where(authorization_codes.c.code_hash == key)
                )
            ).one_or_none()
            if row is None or row.client_id != client_id:
                return None
            taken = await conn.execute(
                update(authorization_codes)
                .where(
                    authorization_codes.c.code_hash == key,
                    authorization_codes.c.used_at.is_(None),
                )
                .values(used_at=now)
            )
            if taken.rowcount != 1:
                await self._revoke_grants(conn, [row.grant_id], "code replayed", now)
                pair = None
            elif row.revoked_at is not None or row.expires_at <= now:
                pair = None
            else:
                pair = await self._issue(conn, row.grant_id, client_id, _scopes(row.scopes), now)
        if pair is None:
            self._cache.drop_grants([row.grant_id])
        return pair

    # ------------------------------------------------------------------ tokens

    async def _issue(
        self,
        conn: AsyncConnection,
        grant_id: str,
        client_id: str,
        scopes: list[str],
        now: datetime,
    ) -> TokenPair:
        access, refresh = new_token(), new_token()
        pair = TokenPair(
            access_token=access,
            refresh_token=refresh,
            grant_id=grant_id,
            client_id=client_id,
            scopes=scopes,
            access_expires_at=now + self.access_ttl,
            refresh_expires_at=now + self.refresh_ttl,
        )
        await conn.execute(
            insert(tokens),
            [
                {
                    "token_hash": token_hash(access),
                    "kind": "access",
                    "grant_id": grant_id,
                    "scopes": _join(scopes),
                    "created_at": now,
                    "expires_at": pair.access_expires_at,
                },
                {
                    "token_hash": token_hash(refresh),
                    "kind": "refresh",
                    "grant_id": grant_id,
                    "scopes": _join(scopes),
                    "created_at": now,
                    "expires_at": pair.refresh_expires_at,
                },
            ],
        )
        await conn.execute(update(grants).where(grants.c.id == grant_id).values(last_used_at=now))
        return pair

    @staticmethod
    def _lookup_statement(key: str) -> Select[Any]:
        return (
            select(
                tokens.c.kind,
                tokens.c.grant_id,
                tokens.c.scopes,
                tokens.c.expires_at,
                tokens.c.consumed_at,
                tokens.c.revoked_at,
                grants.c.client_id,
                grants.c.person_id,
                grants.c.resource,
                grants.c.last_used_at,
                grants.c.revoked_at.label("grant_revoked_at"),
            )
            .join(grants, grants.c.id == tokens.c.grant_id)
            .where(tokens.c.token_hash == key)
        )

    async def _lookup(self, conn: AsyncConnection, key: str) -> Any:
        return (await conn.execute(self._lookup_statement(key))).one_or_none()

    @staticmethod
    def _info(row: Any) -> TokenInfo:
        return TokenInfo(
            kind=row.kind,
            grant_id=row.grant_id,
            client_id=row.client_id,
            person_id=row.person_id,
            resource=row.resource,
            scopes=_scopes(row.scopes),
            expires_at=row.expires_at,
        )

    def now(self) -> datetime:
        """The store's clock (aware UTC): what expiries are compared with."""
        return self._now()

    async def verify_access_token(
        self, token: str, *, resource: str | None = None
    ) -> TokenInfo | None:
        """What a valid access token grants, or None: unknown, not an access token, expired,
        revoked (itself or its grant), or issued for another `resource` (when given). Answers
        from the cache for up to `cache_ttl_s` after a database check."""
        key = token_hash(token)
        info = self._cache.get(key)
        now = self._now()
        if info is None:
            row = await self._reader.one_or_none(self._lookup_statement(key))
            if (
                row is None
                or row.kind != "access"
                or row.revoked_at is not None
                or row.grant_revoked_at is not None
                or row.expires_at <= now
            ):
                return None
            info = self._info(row)
            self._cache.put(key, info)
            if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
                self._touch(row.grant_id, now)
        if info.expires_at <= now or (resource is not None and info.resource != resource):
            return None
        return info

    def _touch(self, grant_id: str, now: datetime) -> None:
        """Record that a grant was used, off the request path (at most once a minute)."""
        if grant_id in self._touching:
            return
        self._touching.add(grant_id)

        async def write_it() -> None:
            try:
                async with write(self._engine) as conn:
                    await conn.execute(
                        update(grants).where(grants.c.id == grant_id).values(last_used_at=now)
                    )
            except (SQLAlchemyError, StoreUnavailable) as exc:  # the next use records it
                log.warning("could not record the use of grant %s: %s", grant_id, exc)
            finally:
                self._touching.discard(grant_id)

        task = asyncio.get_running_loop().create_task(write_it())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def close(self) -> None:
        """Finish background writes and release the point reader (open_store does this)."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        self._reader.dispose()

    async def load_refresh_token(self, token: str, client_id: str) -> TokenInfo | None:
        """What a live refresh token of `client_id` grants, without using it; None otherwise.
        A consumed (already rotated) one revokes its grant: it was stolen or replayed."""
        async with read(self._engine) as conn:
            row = await self._lookup(conn, token_hash(token))
        if row is None or row.kind != "refresh" or row.client_id != client_id:
            return None
        if row.consumed_at is not None and row.grant_revoked_at is None:
            await self.revoke_grant(row.grant_id, reason="refresh token reused")
            return None
        if (
            row.consumed_at is not None
            or row.revoked_at is not None
            or row.grant_revoked_at is not None
            or row.expires_at <= self._now()
        ):
            return None
        return self._info(row)

    async def rotate_refresh_token(
        self, token: str, client_id: str, scopes: Iterable[str] | None = None
    ) -> TokenPair | None:
        """Consume a refresh token of `client_id` and issue a new access + refresh pair on
        its grant (with `scopes`, which must be among the token's; default: all of them).
        None if unknown, expired, revoked or not this client's. A refresh token already
        consumed revokes the whole grant and gets None (RFC 9700 reuse detection)."""
        key = token_hash(token)
        now = self._now()
        reused = False
        async with write(self._engine) as conn:
            row = await self._lookup(conn, key)
            if row is None or row.kind != "refresh" or row.client_id != client_id:
                return None
            held = _scopes(row.scopes)
            wanted = held if scopes is None else list(scopes)
            if not set(wanted) <= set(held):
                raise GrantError(
                    f"scopes {sorted(set(wanted) - set(held))} were not granted to this token"
                )
            taken = await conn.execute(
                update(tokens)
                .where(tokens.c.token_hash == key, tokens.c.consumed_at.is_(None))
                .values(consumed_at=now)
            )
            if taken.rowcount != 1:
                reused = row.grant_revoked_at is None
                if reused:
                    await self._revoke_grants(conn, [row.grant_id], "refresh token reused", now)
                pair = None
            elif (
                row.revoked_at is not None
                or row.grant_revoked_at is not None
                or row.expires_at <= now
            ):
                pair = None
            else:
                pair = await self._issue(conn, row.grant_id, client_id, wanted, now)
        if reused:
            self._cache.drop_grants([row.grant_id])
        return pair

    # ------------------------------------------------------------------ revocation

    async def revoke_token(self, token: str) -> bool:
        """Revoke one token (RFC 7009). A refresh token takes its whole grant with it (its
        access tokens too); an access token only itself. False if unknown."""
        key = token_hash(token)
        now = self._now()
        async with write(self._engine) as conn:
            row = await self._lookup(conn, key)
            if row is None:
                return False
            if row.kind == "refresh":
                await self._revoke_grants(conn, [row.grant_id], "refresh token revoked", now)
            else:
                await conn.execute(
                    update(tokens)
                    .where(tokens.c.token_hash == key, tokens.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
        self._cache.drop(key)
        if row.kind == "refresh":
            self._cache.drop_grants([row.grant_id])
        return True

    async def revoke_grant(self, grant_id: str, *, reason: str = "revoked") -> bool:
        """Revoke a grant and every code and token under it. False if unknown or already
        revoked."""
        async with write(self._engine) as conn:
            n = await self._revoke_grants(conn, [grant_id], reason, self._now())
        self._cache.drop_grants([grant_id])
        return n > 0

    async def _revoke_grants(
        self, conn: AsyncConnection, grant_ids: list[str], reason: str, now: datetime
    ) -> int:
        if not grant_ids:
            return 0
        done = await conn.execute(
            update(grants)
            .where(grants.c.id.in_(grant_ids), grants.c.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason[:64])
        )
        await conn.execute(
            update(tokens)
            .where(tokens.c.grant_id.in_(grant_ids), tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(done.rowcount)

    async def revoke_person(self, person_id: int) -> RevocationSummary:
        """Sign-out: revoke every live grant of a person (all clients' access and refresh
        tokens) and delete their upstream OAuth states, in one transaction."""
        now = self._now()
        async with write(self._engine) as conn:
            rows = (
                await conn.execute(
                    select(grants.c.id, grants.c.client_id, oauth_clients.c.client_name)
                    .join(oauth_clients, oauth_clients.c.client_id == grants.c.client_id)
                    .where(grants.c.person_id == person_id, grants.c.revoked_at.is_(None))
                )
            ).all()
            ids = [row.id for row in rows]
            await self._revoke_grants(conn, ids, "signed out", now)
            removed = await conn.execute(
                delete(upstream_oauth_states).where(upstream_oauth_states.c.person_id == person_id)
            )
        self._cache.drop_grants(ids)
        clients = Counter(row.client_name or row.client_id for row in rows)
        return RevocationSummary(dict(clients), int(removed.rowcount))

    # ------------------------------------------------------------------ listing, upkeep

    async def connected_clients(self, person_id: int) -> list[ConnectedClient]:
        """A person's live grants (not revoked, with a token still usable), newest first."""
        now = self._now()
        usable = exists().where(
            tokens.c.grant_id == grants.c.id,
            tokens.c.revoked_at.is_(None),
            tokens.c.consumed_at.is_(None),
            tokens.c.expires_at > now,
        )
        async with read(self._engine) as conn:
            rows = (
                await conn.execute(
                    select(
                        grants.c.id,
                        grants.c.client_id,
                        grants.c.resource,
                        grants.c.created_at,
                        grants.c.last_used_at,
                        oauth_clients.c.client_name,
                    )
                    .join(oauth_clients, oauth_clients.c.client_id == grants.c.client_id)
                    .where(grants.c.person_id == person_id, grants.c.revoked_at.is_(None), usable)
                    .order_by(grants.c.created_at.desc())
                )
            ).all()
        return [
            ConnectedClient(
                grant_id=row.id,
                client_id=row.client_id,
                client_name=row.client_name or row.client_id,
                resource=row.resource,
                authorized_at=row.created_at,
                last_used_at=row.last_used_at,
            )
            for row in rows
        ]

    async def purge(self, *, keep: timedelta = timedelta(days=7)) -> int:
        """Delete codes and tokens expired, and grants revoked, more than `keep` ago (kept
        that long so a replay is still recognised as one). Returns the rows deleted."""
        cutoff = self._now() - keep
        async with write(self._engine) as conn:
            n = (
                await conn.execute(
                    delete(authorization_codes).where(authorization_codes.c.expires_at < cutoff)
                )
            ).rowcount
            n += (await conn.execute(delete(tokens).where(tokens.c.expires_at < cutoff))).rowcount
            live = exists().where(tokens.c.grant_id == grants.c.id)
            n += (
                await conn.execute(
                    delete(grants).where(
                        or_(
                            grants.c.revoked_at < cutoff,
                            and_(~live, grants.c.created_at < cutoff),
                        )
                    )
                )
            ).rowcount
        return int(n)

    async def count_tokens(self) -> int:
        """Rows in the token table (for status pages and tests)."""
        async with read(self._engine) as conn:
            return int(await conn.scalar(select(func.count()).select_from(tokens)) or 0)
