"""The request log in the store's database (`request_log` table): where replicas on
PostgreSQL write it, so every replica's admin API and homepage see every replica's entries.

Like the SQLite file log (`engine.requestlog`), `record()` only enqueues; a writer thread
inserts what gathered in one transaction per batch (50 ms, at most 512 entries), on a
synchronous engine of its own, so the event loop never waits on the database. A process
killed outright loses what it had not written yet: at most one batch, the entries of its
last 50 ms. While the database is down a batch cannot be written: it is dropped and the loss
logged (the requests themselves get 503 then, `StoreUnavailable`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, insert, select, true
from sqlalchemy import create_engine as sa_create_engine
from sqlalchemy.engine import URL

from engine.requestlog import BatchedLog, DlpEntry, RequestRecord
from engine.store.db import BUSY_TIMEOUT_MS, PG_CONNECT_TIMEOUT_S, PG_POOL_TIMEOUT_S
from engine.store.schema import request_log as table

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
        super().__init__(name=f"requestlog-store:{url.get_backend_name()}")

    def __repr__(self) -> str:
        return f"StoreRequestLog({self._url.render_as_string(hide_password=True)!r})"

    def _write(self, batch: Sequence[RequestRecord]) -> None:
        rows = [_to_row(r) for r in batch]
        with self._engine.begin() as conn:
            conn.execute(insert(table), rows)

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
        with self._engine.connect() as conn:
            rows = conn.execute(statement).all()
        return [_from_row(row._tuple()) for row in rows]

    def count(self, *, portal: str | None = None, server: str | None = None) -> int:
        self.flush()
        self._check_open()
        statement = select(func.count()).select_from(table).where(_where(portal, server, None))
        with self._engine.connect() as conn:
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
