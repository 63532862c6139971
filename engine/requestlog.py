"""Request log: one entry per upstream tool call and per `code`/`execute` run.

Entries carry who, what, how long and how big, never arguments or results. Sinks implement
`RequestLog`; the default is SQLite (stdlib `sqlite3`), with an optional JSON-lines file, and
`FanOut` writes to several. `record()` only enqueues: a writer thread per sink does the I/O in
batches, so the event loop never waits on the disk. `flush()` waits until everything recorded
so far is written; `close()` flushes and stops the writer: nothing recorded is lost.

The record, the interface and its sinks are one module because they change together: a field
of `RequestRecord` is a column of the SQLite schema and a key of the JSON lines.
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from engine.config import ConfigError, ConfigProblem, Settings

logger = logging.getLogger(__name__)

Kind = Literal["tool_call", "code_run", "resource_read", "approval"]
Status = Literal["ok", "error"]
MAX_ERROR_CHARS = 500
_BATCH = 512
_GATHER_S = 0.05
"""How long the writer lets entries gather after the first of a batch: a call's `record`
then only wakes the writer thread (a futex wake, a GIL hand-off, a transaction) once per
window, not once per call. Readers `flush` first, which cuts the wait short."""


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DlpEntry:
    """One DLP finding as the request log keeps it: no matched text, by construction."""

    profile: str
    path: str
    action: str


@dataclass(frozen=True)
class RequestRecord:
    portal: str
    kind: Kind
    status: Status
    capability: str
    """Tool name: the client-visible name for direct calls, `code`/`execute` for runs, the
    URI as the client asked for it for resource reads."""
    duration_ms: float
    server: str | None = None
    user: str | None = None
    request_bytes: int = 0
    response_bytes: int = 0
    error: str | None = None
    """Short cause of a failure (cut to MAX_ERROR_CHARS)."""
    time: datetime = field(default_factory=_now)
    dlp: tuple[DlpEntry, ...] = ()
    """What DLP found in the call's arguments or result: profile, path and action, never
    the matched text (`engine.dlp`)."""

    def __post_init__(self) -> None:
        if self.error is not None and len(self.error) > MAX_ERROR_CHARS:
            object.__setattr__(self, "error", self.error[: MAX_ERROR_CHARS - 1] + "…")
        if self.time.tzinfo is None:
            raise ValueError("RequestRecord.time must be timezone-aware")

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["time"] = self.time.astimezone(UTC).isoformat()
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RequestRecord:
        dlp = tuple(DlpEntry(**entry) for entry in data.get("dlp", ()))
        return cls(**{**data, "time": datetime.fromisoformat(data["time"]), "dlp": dlp})


class RequestLogClosed(RuntimeError):
    pass


class RequestLog(ABC):
    """Where request records go. Implementations must be safe to call from any thread."""

    @abstractmethod
    def record(self, entry: RequestRecord) -> None:
        """Queue one entry; never blocks on I/O."""

    @abstractmethod
    def query(
        self,
        *,
        portal: str | None = None,
        server: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[RequestRecord]:
        """Entries matching every given filter, newest first, at most `limit`."""

    @abstractmethod
    def flush(self) -> None:
        """Return once every entry recorded before the call is written."""

    @abstractmethod
    def close(self) -> None:
        """Flush and release resources. Recording after close raises RequestLogClosed."""

    def count(self, *, portal: str | None = None, server: str | None = None) -> int:
        return len(self.query(portal=portal, server=server, limit=2**62))

    def __enter__(self) -> RequestLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class _Flush:
    done: threading.Event = field(default_factory=threading.Event)


_STOP = object()


class BatchedLog(RequestLog):
    """Shared queue and writer thread; subclasses write one batch at a time."""

    gather_s = _GATHER_S

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._closed = False
        self._close_lock = threading.Lock()
        self._hurry = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @abstractmethod
    def _write(self, batch: Sequence[RequestRecord]) -> None: ...

    def _release(self) -> None:
        """Called on the writer thread after the last batch."""

    def _held_back(self) -> bool:
        """Whether entries of earlier batches wait to be written again (a sink that keeps
        them through an outage): then a flush or close tries them even with no new entry."""
        return False

    def record(self, entry: RequestRecord) -> None:
        # Under the lock so no entry can slip in behind the stop marker.
        with self._close_lock:
            if self._closed:
                raise RequestLogClosed("request log is closed")
            self._queue.put(entry)

    def _check_open(self) -> None:
        if self._closed:
            raise RequestLogClosed("request log is closed")

    def flush(self) -> None:
        if self._closed:
            return
        marker = _Flush()
        self._queue.put(marker)
        self._hurry.set()
        marker.done.wait()

    def close(self) -> None:
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._queue.put(_STOP)
        self._hurry.set()
        self._thread.join()

    def _run(self) -> None:
        stop = False
        while not stop:
            items = [self._queue.get()]
            if isinstance(items[0], RequestRecord):
                self._hurry.wait(self.gather_s)
            self._hurry.clear()
            while len(items) < _BATCH:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            batch = [i for i in items if isinstance(i, RequestRecord)]
            if batch or self._held_back():
                self._write_safely(batch)
            for item in items:
                if isinstance(item, _Flush):
                    item.done.set()
            stop = any(item is _STOP for item in items)
        self._release()

    def _write_safely(self, batch: Sequence[RequestRecord]) -> None:
        try:
            self._write(batch)
        except Exception:
            # The writer must outlive a bad disk moment; the loss is reported, not hidden.
            logger.exception("request log %s: %d entries could not be written", self, len(batch))


_SCHEMA = """
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time REAL NOT NULL,
    portal TEXT NOT NULL,
    user TEXT,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    server TEXT,
    capability TEXT NOT NULL,
    duration_ms REAL NOT NULL,
    request_bytes INTEGER NOT NULL,
    response_bytes INTEGER NOT NULL,
    error TEXT,
    dlp TEXT
);
CREATE INDEX IF NOT EXISTS requests_portal_time ON requests (portal, time);
CREATE INDEX IF NOT EXISTS requests_server_time ON requests (server, time);
"""
_COLUMNS = (
    "time, portal, user, kind, status, server, capability, duration_ms, "
    "request_bytes, response_bytes, error, dlp"
)


class SqliteRequestLog(BatchedLog):
    """The default sink: one SQLite file (or `:memory:`), written in batches by a thread."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        # One connection shared under a lock: `:memory:` databases are per connection.
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db_lock = threading.Lock()
        try:
            with self._db_lock:
                if self.path != ":memory:":
                    self._db.execute("PRAGMA journal_mode=WAL")
                self._db.executescript(_SCHEMA)
                _add_dlp_column(self._db)
        except BaseException:
            self._db.close()
            raise
        super().__init__(name=f"requestlog-sqlite:{self.path}")

    def __repr__(self) -> str:
        return f"SqliteRequestLog({self.path!r})"

    def _write(self, batch: Sequence[RequestRecord]) -> None:
        rows = [
            (
                r.time.timestamp(),
                r.portal,
                r.user,
                r.kind,
                r.status,
                r.server,
                r.capability,
                r.duration_ms,
                r.request_bytes,
                r.response_bytes,
                r.error,
                json.dumps([asdict(e) for e in r.dlp]) if r.dlp else None,
            )
            for r in batch
        ]
        with self._db_lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    f"INSERT INTO requests ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _release(self) -> None:
        with self._db_lock:
            self._db.close()

    def _where(
        self, portal: str | None, server: str | None, since: datetime | None
    ) -> tuple[str, list[object]]:
        clauses: list[str] = []
        params: list[object] = []
        for column, value in (("portal", portal), ("server", server)):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if since is not None:
            clauses.append("time >= ?")
            params.append(since.timestamp())
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def query(
        self,
        *,
        portal: str | None = None,
        server: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[RequestRecord]:
        self.flush()
        where, params = self._where(portal, server, since)
        sql = f"SELECT {_COLUMNS} FROM requests{where} ORDER BY time DESC, id DESC LIMIT ?"
        self._check_open()
        with self._db_lock:
            rows = self._db.execute(sql, [*params, max(0, limit)]).fetchall()
        return [_from_row(row) for row in rows]

    def count(self, *, portal: str | None = None, server: str | None = None) -> int:
        self.flush()
        self._check_open()
        where, params = self._where(portal, server, None)
        with self._db_lock:
            (n,) = self._db.execute(f"SELECT COUNT(*) FROM requests{where}", params).fetchone()
        return int(n)


def _add_dlp_column(db: sqlite3.Connection) -> None:
    """A log file written before DLP existed gets the column (NULL in its old rows)."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(requests)")}
    if "dlp" not in columns:
        db.execute("ALTER TABLE requests ADD COLUMN dlp TEXT")


def _from_row(row: tuple[Any, ...]) -> RequestRecord:
    (ts, portal, user, kind, status, server, capability, duration, req, resp, error, dlp) = row
    return RequestRecord(
        time=datetime.fromtimestamp(ts, UTC),
        portal=portal,
        user=user,
        kind=kind,
        status=status,
        server=server,
        capability=capability,
        duration_ms=duration,
        request_bytes=req,
        response_bytes=resp,
        error=error,
        dlp=tuple(DlpEntry(**entry) for entry in json.loads(dlp)) if dlp else (),
    )


class JsonlRequestLog(BatchedLog):
    """Appends one JSON object per line: easy to ship to other tools. Queries scan the file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        super().__init__(name=f"requestlog-jsonl:{self.path}")

    def __repr__(self) -> str:
        return f"JsonlRequestLog({str(self.path)!r})"

    def _write(self, batch: Sequence[RequestRecord]) -> None:
        self._file.write("".join(json.dumps(r.to_json()) + "\n" for r in batch))
        self._file.flush()

    def _release(self) -> None:
        self._file.close()

    def query(
        self,
        *,
        portal: str | None = None,
        server: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[RequestRecord]:
        self.flush()
        matches = [
            r
            for r in self._read()
            if (portal is None or r.portal == portal)
            and (server is None or r.server == server)
            and (since is None or r.time >= since)
        ]
        matches.sort(key=lambda r: r.time, reverse=True)  # stable: equal times keep file order
        return matches[: max(0, limit)]

    def _read(self) -> Iterable[RequestRecord]:
        with self.path.open(encoding="utf-8") as f:
            lines = f.readlines()
        # Newest last in the file: reverse first so the stable sort keeps newest-first ties.
        for line in reversed(lines):
            if line.strip():
                yield RequestRecord.from_json(json.loads(line))


class FanOut(RequestLog):
    """Records to every sink; queries the first one."""

    def __init__(self, sinks: Sequence[RequestLog]) -> None:
        if not sinks:
            raise ValueError("FanOut needs at least one sink")
        self.sinks = list(sinks)

    def record(self, entry: RequestRecord) -> None:
        for sink in self.sinks:
            sink.record(entry)

    def query(
        self,
        *,
        portal: str | None = None,
        server: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[RequestRecord]:
        return self.sinks[0].query(portal=portal, server=server, since=since, limit=limit)

    def count(self, *, portal: str | None = None, server: str | None = None) -> int:
        return self.sinks[0].count(portal=portal, server=server)

    def flush(self) -> None:
        for sink in self.sinks:
            sink.flush()

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


class RequestLogError(ConfigError):
    """The configured request log cannot be opened; the problem names the file and the
    setting (`settings.request_log_path`)."""


def open_request_log(settings: Settings, primary: RequestLog | None = None) -> RequestLog:
    """The log the settings ask for: `primary` if given (the store's table, for replicas on
    PostgreSQL), else SQLite; plus a JSON-lines file when configured.

    Raises RequestLogError when a file cannot be created or written."""
    sqlite_log = primary or _open("request_log_path", settings.request_log_path or ":memory:")
    if settings.request_log_jsonl_path is None:
        return sqlite_log
    try:
        jsonl_log = _open("request_log_jsonl_path", settings.request_log_jsonl_path)
    except RequestLogError:
        sqlite_log.close()
        raise
    return FanOut([sqlite_log, jsonl_log])


def _open(key: str, path: str) -> RequestLog:
    try:
        if key == "request_log_jsonl_path":
            return JsonlRequestLog(path)
        return SqliteRequestLog(path)
    except (OSError, sqlite3.Error) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        problem = ConfigProblem(f"settings.{key}", f"cannot open the request log {path}: {reason}")
        raise RequestLogError([problem]) from None
