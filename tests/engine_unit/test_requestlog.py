from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from engine.config import ConfigError, Settings
from engine.requestlog import (
    MAX_ERROR_CHARS,
    FanOut,
    JsonlRequestLog,
    RequestLog,
    RequestLogClosed,
    RequestLogError,
    RequestRecord,
    SqliteRequestLog,
    open_request_log,
)

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def entry(
    i: int, *, portal: str = "main", server: str | None = "time", **kw: object
) -> RequestRecord:
    fields: dict[str, object] = {
        "portal": portal,
        "kind": "tool_call",
        "status": "ok",
        "server": server,
        "capability": f"time_tool_{i}",
        "duration_ms": 1.5 + i,
        "request_bytes": 10 * i,
        "response_bytes": 20 * i,
        "time": T0 + timedelta(seconds=i),
    }
    fields.update(kw)
    return RequestRecord(**fields)  # type: ignore[arg-type]


Factory = Callable[[Path], RequestLog]
SINKS: dict[str, Factory] = {
    "sqlite-file": lambda d: SqliteRequestLog(d / "log.sqlite3"),
    "sqlite-memory": lambda d: SqliteRequestLog(":memory:"),
    "jsonl": lambda d: JsonlRequestLog(d / "log.jsonl"),
    "fanout": lambda d: FanOut([SqliteRequestLog(d / "a.sqlite3"), JsonlRequestLog(d / "b.jsonl")]),
}


@pytest.fixture(params=sorted(SINKS))
def log(request: pytest.FixtureRequest, tmp_path: Path) -> RequestLog:
    sink = SINKS[request.param](tmp_path)
    request.addfinalizer(sink.close)
    return sink


def test_round_trip_of_every_field(log: RequestLog) -> None:
    original = entry(
        3,
        user="alice@example.com",
        kind="code_run",
        status="error",
        server=None,
        capability="code",
        error="TypeError: x is not a function",
    )
    log.record(original)
    assert log.query() == [original]


def test_query_filters_newest_first_and_limit(log: RequestLog) -> None:
    for i in range(10):
        log.record(entry(i, portal="main" if i % 2 else "other", server="git" if i < 5 else "time"))
    newest = log.query(limit=3)
    assert [e.capability for e in newest] == ["time_tool_9", "time_tool_8", "time_tool_7"]
    assert [e.capability for e in log.query(portal="main")] == [
        f"time_tool_{i}" for i in (9, 7, 5, 3, 1)
    ]
    assert [e.capability for e in log.query(portal="main", server="git")] == [
        "time_tool_3",
        "time_tool_1",
    ]
    since = log.query(since=T0 + timedelta(seconds=8))
    assert [e.capability for e in since] == ["time_tool_9", "time_tool_8"]
    assert log.query(limit=0) == []
    assert log.count() == 10 and log.count(portal="other") == 5 and log.count(server="git") == 5


def test_equal_times_keep_newest_recorded_first(log: RequestLog) -> None:
    for i in range(3):
        log.record(entry(i, time=T0))
    assert [e.capability for e in log.query()] == ["time_tool_2", "time_tool_1", "time_tool_0"]


def test_close_flushes_everything_from_many_threads(tmp_path: Path) -> None:
    path = tmp_path / "log.sqlite3"
    log = SqliteRequestLog(path)
    per_thread, threads = 500, 8

    def work(t: int) -> None:
        for i in range(per_thread):
            log.record(entry(i, portal=f"p{t}"))

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    log.close()
    # Read back with a separate connection: everything reached the file.
    with sqlite3.connect(path) as db:
        (n,) = db.execute("SELECT COUNT(*) FROM requests").fetchone()
        (p3,) = db.execute("SELECT COUNT(*) FROM requests WHERE portal = 'p3'").fetchone()
    assert n == per_thread * threads and p3 == per_thread


def test_reopening_a_file_keeps_earlier_entries(tmp_path: Path) -> None:
    for path, factory in (
        (tmp_path / "x.sqlite3", SqliteRequestLog),
        (tmp_path / "x.jsonl", JsonlRequestLog),
    ):
        with factory(path) as first:
            first.record(entry(1))
        with factory(path) as second:
            second.record(entry(2))
            assert [e.capability for e in second.query()] == ["time_tool_2", "time_tool_1"]


def test_recording_after_close_raises(log: RequestLog) -> None:
    log.close()
    with pytest.raises(RequestLogClosed):
        log.record(entry(1))
    log.close()  # idempotent


def test_jsonl_lines_are_plain_json(tmp_path: Path) -> None:
    with JsonlRequestLog(tmp_path / "l.jsonl") as log:
        log.record(entry(1, user="bob"))
    (line,) = (tmp_path / "l.jsonl").read_text().splitlines()
    data = json.loads(line)
    assert data["time"] == "2026-01-01T12:00:01+00:00"
    assert data["user"] == "bob" and data["kind"] == "tool_call" and data["status"] == "ok"
    assert set(data) == {
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
    }


def test_fanout_writes_to_every_sink(tmp_path: Path) -> None:
    a, b = SqliteRequestLog(tmp_path / "a.sqlite3"), JsonlRequestLog(tmp_path / "b.jsonl")
    with FanOut([a, b]) as log:
        log.record(entry(1))
        log.record(entry(2))
        assert [e.capability for e in a.query()] == [e.capability for e in b.query()]
        assert a.count() == b.count() == 2


def test_long_errors_are_cut() -> None:
    record = entry(1, status="error", error="x" * 5000)
    assert record.error is not None and len(record.error) == MAX_ERROR_CHARS
    with pytest.raises(ValueError, match="timezone-aware"):
        entry(1, time=datetime(2026, 1, 1))


def test_open_request_log_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        request_log_path=str(tmp_path / "r.sqlite3"),
        request_log_jsonl_path=str(tmp_path / "r.jsonl"),
    )
    with open_request_log(settings) as log:
        assert isinstance(log, FanOut)
        log.record(entry(1))
    assert (tmp_path / "r.jsonl").read_text().count("\n") == 1
    with open_request_log(Settings(request_log_path=str(tmp_path / "r.sqlite3"))) as only:
        assert isinstance(only, SqliteRequestLog) and only.count() == 1
    with open_request_log(Settings(request_log_path=None)) as memory:
        assert isinstance(memory, SqliteRequestLog) and memory.path == ":memory:"
        assert memory.count() == 0


@pytest.mark.anyio
async def test_record_from_event_loop_tasks_and_close_off_loop(tmp_path: Path) -> None:
    log = SqliteRequestLog(tmp_path / "loop.sqlite3")

    async def recorder(portal: str) -> None:
        for i in range(500):
            log.record(entry(i, portal=portal))
            if i % 50 == 0:
                await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        for n in range(4):
            tg.start_soon(recorder, f"p{n}")
    assert await anyio.to_thread.run_sync(lambda: log.count(portal="p2")) == 500
    await anyio.to_thread.run_sync(log.close)
    with sqlite3.connect(tmp_path / "loop.sqlite3") as db:
        assert db.execute("SELECT COUNT(*) FROM requests").fetchone() == (2000,)


@pytest.mark.parametrize("key", ["request_log_path", "request_log_jsonl_path"])
def test_a_log_that_cannot_be_created_names_the_file_and_the_setting(
    tmp_path: Path, key: str
) -> None:
    (tmp_path / "plain").write_text("", encoding="utf-8")
    target = str(tmp_path / "plain" / "log")
    with pytest.raises(RequestLogError) as raised:
        open_request_log(Settings(**{"request_log_path": None, key: target}))
    assert isinstance(raised.value, ConfigError)
    (problem,) = raised.value.problems
    assert problem.path == f"settings.{key}"
    assert problem.message.startswith(f"cannot open the request log {target}: ")


def test_a_file_that_is_not_a_database_is_reported_at_open(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database, just text long enough to have a header\n" * 20)
    with pytest.raises(RequestLogError) as raised:
        open_request_log(Settings(request_log_path=str(notes)))
    assert str(raised.value) == (
        f"settings.request_log_path: cannot open the request log {notes}: file is not a database"
    )


class _CountingLog(SqliteRequestLog):
    """Counts the writer's batches; a window long enough that only `flush` ends it."""

    gather_s = 30.0

    def __init__(self) -> None:
        self.batches: list[int] = []
        super().__init__()

    def _write(self, batch: Sequence[RequestRecord]) -> None:
        self.batches.append(len(batch))
        super()._write(batch)


def test_entries_recorded_apart_are_written_in_one_batch_and_flush_ends_the_wait() -> None:
    """The writer does not wake (a thread switch, a transaction) for every call's entry: it
    gathers them, and a reader's flush writes what has gathered at once."""
    with _CountingLog() as log:
        log.record(entry(0))
        time.sleep(0.05)  # the writer has had time to wake for the first entry
        log.record(entry(1))
        log.flush()
        assert log.batches == [2]
        assert log.count() == 2
        log.record(entry(2))
    with pytest.raises(RequestLogClosed):
        log.record(entry(3))
    assert log.batches == [2, 1]  # close wrote the last one without waiting the window
