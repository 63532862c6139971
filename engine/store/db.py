"""Opening the store: an async SQLAlchemy engine from `settings.database_url`, the schema
brought up to date by Alembic under a lock, and the secret key.

    async with open_store(config.settings) as store:
        pair = await store.grants.exchange_authorization_code(code, client_id)

SQLite (the default, through `aiosqlite`) runs in WAL mode with a busy timeout, so several
processes can share one file; write transactions start with `BEGIN IMMEDIATE` so a reader
never has to upgrade to a writer mid-transaction (which SQLite refuses at once, busy timeout
or not). Nothing outside this module knows the dialect.

PostgreSQL (`postgresql+psycopg://`, psycopg 3, natively async, in SQLAlchemy's pool) keeps
the same rule for writes: a write transaction first takes one transaction-scoped advisory
lock (`pg_advisory_xact_lock`), so write transactions run one at a time across every process
and replica, as SQLite's do. The store's check-then-write code (single-use codes, rotation,
update-or-insert) is thus correct on both without per-statement dialect variants; writes are
rare (sign-in, token issue, revocation) and reads take no lock. Migrations run in such a
write transaction: one replica migrates, the others wait for the lock and find nothing to do.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, Row, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import (
    ArgumentError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.expression import Executable

from engine.store.secrets import Cipher, SecretKey, load_secret_key

if TYPE_CHECKING:
    from engine.config import Settings
    from engine.store.admin_tokens import AdminTokenStore
    from engine.store.configs import ConfigStore
    from engine.store.connect_prompts import ConnectPromptStore
    from engine.store.grants import GrantStore
    from engine.store.people import PeopleStore
    from engine.store.selections import SelectionStore
    from engine.store.upstream_flows import UpstreamFlowStore
    from engine.store.upstream_tokens import UpstreamTokenStore

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 10_000
_IMMEDIATE = "codemode_begin_immediate"
# The PostgreSQL advisory lock key (any constant, the same in every replica): "codemod" in ASCII
# bytes: every write transaction, migrations included, holds it until its end.
PG_WRITE_LOCK = 0x636F64656D6F6401
# Fail fast when PostgreSQL is down (the caller answers 503), instead of hanging on it.
PG_CONNECT_TIMEOUT_S = 5
PG_POOL_TIMEOUT_S = 10


class StoreError(Exception):
    """The store cannot be opened or used: a bad database URL, a database that cannot be
    reached or created, a failed migration. The message names the database and the setting."""


class StoreUnavailable(StoreError):
    """The database cannot be reached now: down, restarting, unreachable, or too busy (no
    pooled connection, SQLite locked past its busy timeout). Nothing was changed; the same
    call may succeed in a few seconds (`RETRY_AFTER_S`), and the store recovers by itself."""

    RETRY_AFTER_S = 5


# What an outage looks like from SQLAlchemy: the driver's connection errors, and no
# connection from the pool in time. Other errors (constraints, bad SQL) are bugs: not these.
_OUTAGE = (OperationalError, InterfaceError, PoolTimeoutError)


@contextlib.contextmanager
def _outage_as_unavailable(engine: AsyncEngine | Engine) -> Iterator[None]:
    try:
        yield
    except _OUTAGE as exc:
        url = engine.url.render_as_string(hide_password=True)
        cause = getattr(exc, "orig", None) or exc
        raise StoreUnavailable(
            f"the database {url} (settings.database_url) cannot be reached now: "
            f"{type(cause).__name__}: {str(cause).strip().splitlines()[0] if str(cause) else ''}"
        ) from None


def now_utc() -> datetime:
    return datetime.now(UTC)


def _sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for another database or SQLite in memory."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def create_engine(database_url: str) -> AsyncEngine:
    """An async engine for `database_url`. SQLite: the file's directory is created, each
    connection gets WAL, a busy timeout and foreign keys, and transactions are begun by us
    (deferred, or immediate for writes: `write(engine)`)."""
    try:
        url = make_url(database_url)
    except ArgumentError:
        raise StoreError(
            f"settings.database_url {database_url!r} is not a database URL "
            '(e.g. "sqlite+aiosqlite:///codemode.db")'
        ) from None
    safe = url.render_as_string(hide_password=True)
    kwargs: dict[str, Any] = {}
    sqlite = url.get_backend_name() == "sqlite"
    if sqlite:
        path = _sqlite_file(url)
        if path is None:
            kwargs["poolclass"] = StaticPool  # one shared in-memory database
        else:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                # It holds emails and token digests: readable by its owner only.
                os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            except OSError as exc:
                raise StoreError(
                    f"settings.database_url: cannot create {path}: {exc.strerror}"
                ) from None
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
    elif url.get_backend_name() == "postgresql":
        kwargs.update(_postgresql_options())
    try:
        engine = create_async_engine(url, **kwargs)
    except (NoSuchModuleError, ImportError) as exc:
        raise StoreError(
            f"settings.database_url {safe}: no driver for it here ({exc}); SQLite needs "
            "aiosqlite (sqlite+aiosqlite://), PostgreSQL psycopg (postgresql+psycopg://)"
        ) from None
    if sqlite:
        _sqlite_events(engine)
    elif url.get_backend_name() == "postgresql":
        _postgresql_events(engine)
    return engine


def _postgresql_options() -> dict[str, Any]:
    return {
        # A connection the server dropped (restart, failover) is found and replaced at
        # checkout instead of failing the next request.
        "pool_pre_ping": True,
        "pool_timeout": PG_POOL_TIMEOUT_S,
        "pool_size": 10,
        "max_overflow": 10,
        "connect_args": {"connect_timeout": PG_CONNECT_TIMEOUT_S},
    }


def _postgresql_events(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_IMMEDIATE, False):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({PG_WRITE_LOCK})")


def _sqlite_events(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Our own BEGIN (below) instead of the driver's implicit one.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.get_execution_options().get(_IMMEDIATE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_SHARED_CONNECTION_LOCKS: weakref.WeakKeyDictionary[AsyncEngine, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)
"""One lock per engine whose pool hands every task the same connection (SQLite in memory,
`StaticPool`): two tasks' transactions on one connection would interleave ("cannot start a
transaction within a transaction"), so they take turns. A file or a server database gives
each task its own connection and needs no lock."""


@contextlib.asynccontextmanager
async def _turn(engine: AsyncEngine) -> AsyncIterator[None]:
    if not isinstance(engine.sync_engine.pool, StaticPool):
        yield
        return
    lock = _SHARED_CONNECTION_LOCKS.setdefault(engine, asyncio.Lock())
    async with lock:
        yield


@contextlib.asynccontextmanager
async def read(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a read transaction. Raises StoreUnavailable in an outage."""
    with _outage_as_unavailable(engine):
        async with _turn(engine), engine.connect() as conn, conn.begin():
            yield conn


@contextlib.asynccontextmanager
async def write(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection in a write transaction, committed on exit, rolled back on error. On
    SQLite it holds the write lock from its first statement (BEGIN IMMEDIATE), so checks and
    updates inside it cannot race another process. Raises StoreUnavailable in an outage."""
    with _outage_as_unavailable(engine):
        async with _turn(engine), engine.connect() as conn:
            conn = await conn.execution_options(**{_IMMEDIATE: True})
            async with conn.begin():
                yield conn


class PointReader:
    """One-row reads for the request path (token verification), at the lowest cost the
    driver allows. aiosqlite runs every DBAPI call in its thread, and SQLAlchemy's async
    layer makes several calls per statement (checkout, BEGIN, execute, fetch, COMMIT, reset),
    each a hop between threads; for a SQLite file the whole read is instead done in one hop,
    by a synchronous engine on the same file (WAL: readers never wait for the writer).
    PostgreSQL likewise: psycopg's async connection through SQLAlchemy's async layer took
    13 ms for such a read on the shared 2-core machine, its synchronous one in a thread a
    small fraction of that (figures in docs/design.md), so the read is done there too."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._sync: Engine | None = None
        url = engine.url
        if url.get_backend_name() == "sqlite" and _sqlite_file(url) is not None:
            self._sync = sa_create_engine(
                url.set(drivername="sqlite"),
                connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
            )
            event.listen(self._sync, "connect", _sqlite_reader_connect)
        elif url.get_backend_name() == "postgresql":
            self._sync = sa_create_engine(url, **_postgresql_options())

    def _one_sync(self, statement: Executable) -> Row[Any] | None:
        assert self._sync is not None
        with self._sync.connect() as conn:
            return conn.execute(statement).one_or_none()

    async def one_or_none(self, statement: Executable) -> Row[Any] | None:
        """The statement's single row, or None."""
        if self._sync is not None:
            with _outage_as_unavailable(self._sync):
                return await asyncio.to_thread(self._one_sync, statement)
        async with read(self._engine) as conn:
            return (await conn.execute(statement)).one_or_none()

    def dispose(self) -> None:
        if self._sync is not None:
            self._sync.dispose()


def _sqlite_reader_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA query_only = ON")
    cursor.close()


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    """Bring the schema to the newest migration, in one transaction under a lock, so processes
    starting together neither fail nor migrate twice: the later ones wait, then find nothing
    to do. SQLite: the write lock (BEGIN IMMEDIATE; DDL is transactional). PostgreSQL: the write
    transaction's advisory lock (`pg_advisory_xact_lock`; DDL is transactional there too),
    released at its commit."""
    try:
        async with write(engine) as conn:
            await conn.run_sync(_upgrade)
    except SQLAlchemyError as exc:
        url = engine.url.render_as_string(hide_password=True)
        raise StoreError(
            f"cannot bring the database {url} (settings.database_url) up to date: "
            f"{exc.__class__.__name__}: {getattr(exc, 'orig', None) or exc}"
        ) from None


@dataclass
class Store:
    """The open store: its engine, the secret key, the cipher for secrets at rest, and the
    APIs over the tables (`grants`, `people`, `admin_tokens`, `configs`, `upstream_tokens`,
    `upstream_flows`, `connect_prompts`)."""

    engine: AsyncEngine
    secret_key: SecretKey = field(repr=False)
    cipher: Cipher
    grants: GrantStore
    people: PeopleStore
    admin_tokens: AdminTokenStore
    configs: ConfigStore
    upstream_tokens: UpstreamTokenStore
    selections: SelectionStore
    upstream_flows: UpstreamFlowStore
    """Upstream authorizations in progress, shared by the replicas."""
    connect_prompts: ConnectPromptStore

    def cookie_key(self) -> str:
        """The key that signs browser-session cookies (hex), derived from the secret key."""
        from engine.store.secrets import PURPOSE_COOKIES

        return self.secret_key.derive(PURPOSE_COOKIES).hex()

    async def ping(self, timeout_s: float = 2.0) -> None:
        """Raise StoreUnavailable unless the database answers a trivial query in time."""
        try:
            with anyio.fail_after(timeout_s):
                async with read(self.engine) as conn:
                    await conn.exec_driver_sql("SELECT 1")
        except TimeoutError:
            raise StoreUnavailable(
                f"the database (settings.database_url) did not answer within {timeout_s:g} s"
            ) from None

    async def close(self) -> None:
        await self.engine.dispose()


@contextlib.asynccontextmanager
async def open_store(
    settings: Settings,
    *,
    environ: Mapping[str, str] | None = None,
    clock: Callable[[], datetime] = now_utc,
    cache_ttl_s: float | None = None,
) -> AsyncIterator[Store]:
    """Open the database of `settings.database_url`, migrate it, load the secret key (for a
    SQLite file, generated beside it if `settings.secret_key_env` is unset), and close it all
    on exit. `clock` (aware UTC) and `cache_ttl_s` are for tests."""
    from engine.store.admin_tokens import AdminTokenStore
    from engine.store.configs import ConfigStore
    from engine.store.connect_prompts import ConnectPromptStore
    from engine.store.grants import DEFAULT_CACHE_TTL_S, GrantStore
    from engine.store.people import PeopleStore
    from engine.store.selections import SelectionStore
    from engine.store.upstream_flows import UpstreamFlowStore
    from engine.store.upstream_tokens import UpstreamTokenStore

    engine = create_engine(settings.database_url)
    try:
        url = make_url(settings.database_url)
        path = _sqlite_file(url)
        env = os.environ if environ is None else environ
        in_memory = path is None and url.get_backend_name() == "sqlite"
        if in_memory and settings.secret_key_env not in env:
            # An in-memory database forgets everything anyway: a key for this process only.
            key = SecretKey.generate("generated for this in-memory database")
        else:
            key_dir = None if path is None else path.parent
            key = await asyncio.to_thread(load_secret_key, settings.secret_key_env, key_dir, env)
        await migrate(engine)
        cipher = Cipher(key)
        grants = GrantStore(
            engine,
            cipher,
            access_ttl_s=settings.access_token_ttl_s,
            refresh_ttl_s=settings.refresh_token_ttl_s,
            clock=clock,
            cache_ttl_s=DEFAULT_CACHE_TTL_S if cache_ttl_s is None else cache_ttl_s,
        )
        tokens = AdminTokenStore(engine, clock=clock)
        people = PeopleStore(engine, clock=clock)
        configs = ConfigStore(engine, cipher, clock=clock)
        upstream = UpstreamTokenStore(engine, cipher, clock=clock)
        selections = SelectionStore(engine, clock=clock)
        flows = UpstreamFlowStore(engine, cipher, clock=clock)
        prompts = ConnectPromptStore(engine, clock=clock)
        store = Store(
            engine,
            key,
            cipher,
            grants,
            people,
            tokens,
            configs,
            upstream,
            selections,
            flows,
            prompts,
        )
        try:
            yield store
        finally:
            tokens.close()
            selections.close()
            await grants.close()
    finally:
        await engine.dispose()
