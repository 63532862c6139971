"""The request log in the store's database (`request_log` table): where replicas on
PostgreSQL write it, so every replica's admin API and homepage see every replica's entries.

Like the SQLite file log (`engine.requestlog`), `record()` only enqueues; a writer thread
inserts what gathered in one transaction per batch (50 ms, at most 512 entries), on a
synchronous engine of its own, so the event loop never waits on the database. A process
killed outright loses what it had not written yet: at most one batch, the entries of its
last 50 ms. While the database is unreachable the entries are kept (at most `MAX_HELD`, the
newest) and written with the next batch, flush or close after it is back; the outage is
logged once. (Requests that need the store get 503 meanwhile, `StoreUnavailable`.)
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, insert, select, true
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import InterfaceError, OperationalError

from engine.requestlog import BatchedLog, DlpEntry, RequestRecord
from engine.store.db import (
    BUSY_TIMEOUT_MS,
    PG_CONNECT_TIMEOUT_S,
    PG_POOL_TIMEOUT_S,
    _outage_as_unavailable,
)
from engine.store.schema import request_log as table

logger = logging.getLogger("engine.requestlog")
MAX_HELD = 100_000
"""Entries kept through a database outage (about 100 s of a busy replica's calls); beyond it
the oldest are dropped, and the number logged."""

# Columns read back, in RequestRecord's field order.
_FIELDS = (
    "time",
    "portal",
    "user",
    "kind",
    "status",
    "server",
    "capability",
    "duration_ms",
    "request_bytes",
    "response_bytes",
    "error",
    "dlp",
)


class _Held(Exception):
    """A batch kept for later because the database is unreachable."""


def _sync_engine(url: URL) -> Engine:
    """A small synchronous engine on the store's database for the writer and the readers:
    psycopg's synchronous driver (same URL), or stdlib sqlite3 on the same file."""
    if url.get_backend_name() == "sqlite":
        return sa_create_engine(
            url.set(drivername="sqlite"),
            connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
    return sa_create_engine(
        url,
        pool_pre_ping=True,  # a connection dropped by a database restart is replaced
        pool_size=2,
        max_overflow=2,
        pool_timeout=PG_POOL_TIMEOUT_S,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_S},
    )


class StoreRequestLog(BatchedLog):
    """Request log entries as rows of the store's `request_log` table (migrated with the
    rest of the store: open the store first)."""

    def __init__(self, url: URL) -> None:
        self._url = url
        self._engine = _sync_engine(url)
        self._held: list[dict[str, Any]] = []
        self._outage = False
        super().__init__(name=f"requestlog-store:{url.get_backend_name()}")

    def __repr__(self) -> str:
        return f"StoreRequestLog({self._url.render_as_string(hide_password=True)!r})"

    def _write(self, batch: Sequence[RequestRecord]) -> None:
        # Writer thread only: `_held` needs no lock.
        rows = self._held + [_to_row(r) for r in batch]
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(table), rows)
        except (OperationalError, InterfaceError) as exc:
            # Unreachable (the same errors the store reports as StoreUnavailable): keep the
            # rows for the next batch, flush or close, up to MAX_HELD of the newest.
            self._held = rows[-MAX_HELD:]
            if not self._outage:
                logger.warning("request log: the database cannot be reached, holding entries")
            self._outage = True
            if len(rows) > MAX_HELD:
                logger.error("request log: %d entries dropped", len(rows) - MAX_HELD)
            raise _Held(f"{type(exc).__name__}") from None
        if self._outage:
            logger.warning("request log: the database is back, %d entries written", len(rows))
        self._held, self._outage = [], False

    def _held_back(self) -> bool:
        return bool(self._held)

    def _write_safely(self, batch: Sequence[RequestRecord]) -> None:
        try:
            self._write(batch)
        except _Held:
            pass  # reported once by `_write`
        except Exception:
            logger.exception("request log %s: %d entries could not be written", self, len(batch))

    def _release(self) -> None:
        self._engine.dispose()

    def query(
        self,
        *,
        portal: str | None = None,
        server: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[RequestRecord]:
        self.flush()
        self._check_open()
        columns = [table.c[name] for name in _FIELDS]
        statement = (
            select(*columns)
            .where(_where(portal, server, since))
            .order_by(table.c.time.desc(), table.c.id.desc())
            .limit(max(0, limit))
        )
        with _outage_as_unavailable(self._engine), self._engine.connect() as conn:
            rows = conn.execute(statement).all()
        return [_from_row(row._tuple()) for row in rows]

    def count(self, *, portal: str | None = None, server: str | None = None) -> int:
        self.flush()
        self._check_open()
        statement = select(func.count()).select_from(table).where(_where(portal, server, None))
        with _outage_as_unavailable(self._engine), self._engine.connect() as conn:
            return int(conn.execute(statement).scalar_one())


def _where(portal: str | None, server: str | None, since: datetime | None) -> ColumnElement[bool]:
    clauses: list[ColumnElement[bool]] = [true()]
    if portal is not None:
        clauses.append(table.c.portal == portal)
    if server is not None:
        clauses.append(table.c.server == server)
    if since is not None:
        clauses.append(table.c.time >= since)
    return and_(*clauses)


def _to_row(r: RequestRecord) -> dict[str, Any]:
    row = {name: getattr(r, name) for name in _FIELDS}
    row["dlp"] = json.dumps([asdict(e) for e in r.dlp]) if r.dlp else None
    return row


def _from_row(row: tuple[Any, ...]) -> RequestRecord:
    values = dict(zip(_FIELDS, row, strict=True))
    dlp = values.pop("dlp")
    entries = tuple(DlpEntry(**entry) for entry in json.loads(dlp)) if dlp else ()
    return RequestRecord(**values, dlp=entries)
