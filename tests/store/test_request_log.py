"""The request log in the store's `request_log` table (`StoreRequestLog`), on SQLite and on
PostgreSQL: every field round-trips, filters and order match the file log's, what several
threads recorded is all written by close, and two logs on one database (two replicas) each
read what the other wrote. A portal on PostgreSQL writes its log there."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from engine import Config
from engine.gateway import Gateway
from engine.requestlog import DlpEntry, RequestLogClosed, RequestRecord
from engine.store import Store, StoreUnavailable, open_store
from engine.store.request_log import StoreRequestLog
from tests.pg_cluster import PgCluster
from tests.store.conftest import PG_SECRET_KEY, settings_for

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
THREADS, PER_THREAD = 8, 250


def entry(i: int, *, portal: str = "main", server: str | None = "time") -> RequestRecord:
    return RequestRecord(
        portal=portal,
        kind="tool_call",
        status="ok",
        server=server,
        capability=f"time_tool_{i}",
        duration_ms=1.5 + i,
        request_bytes=10 * i,
        response_bytes=20 * i,
        time=T0 + timedelta(seconds=i),
    )


@pytest.fixture
def log(store: Store) -> Iterator[StoreRequestLog]:
    opened = StoreRequestLog(store.engine.url)
    yield opened
    opened.close()


async def test_round_trip_of_every_field(log: StoreRequestLog) -> None:
    original = RequestRecord(
        portal="main",
        kind="code_run",
        status="error",
        capability="code",
        duration_ms=12.25,
        user="ana@example.com",
        request_bytes=2**40,
        response_bytes=7,
        error="TypeError: x is not a function",
        time=T0 + timedelta(microseconds=123456),
        dlp=(DlpEntry("cards", "$.result", "redact"),),
    )
    log.record(original)
    assert log.query() == [original]


async def test_query_filters_newest_first_and_limit(log: StoreRequestLog) -> None:
    for i in range(10):
        log.record(entry(i, portal="main" if i % 2 else "other", server="git" if i < 5 else "time"))
    assert [e.capability for e in log.query(limit=3)] == [
        "time_tool_9",
        "time_tool_8",
        "time_tool_7",
    ]
    assert [e.capability for e in log.query(portal="main", server="git")] == [
        "time_tool_3",
        "time_tool_1",
    ]
    since = log.query(since=T0 + timedelta(seconds=8))
    assert [e.capability for e in since] == ["time_tool_9", "time_tool_8"]
    assert log.query(limit=0) == []
    assert log.count() == 10 and log.count(portal="other") == 5 and log.count(server="git") == 5


async def test_close_writes_everything_recorded_from_many_threads(store: Store) -> None:
    log = StoreRequestLog(store.engine.url)

    def work(t: int) -> None:
        for i in range(PER_THREAD):
            log.record(entry(i, portal=f"p{t}"))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    with pytest.raises(RequestLogClosed):
        log.record(entry(0))
    reader = StoreRequestLog(store.engine.url)
    try:
        assert reader.count() == THREADS * PER_THREAD
        assert reader.count(portal="p3") == PER_THREAD
    finally:
        reader.close()


async def test_two_logs_on_one_database_see_each_others_entries(store: Store) -> None:
    first, second = StoreRequestLog(store.engine.url), StoreRequestLog(store.engine.url)
    try:
        first.record(entry(1, portal="one"))
        second.record(entry(2, portal="two"))
        first.flush()
        second.flush()
        for log in (first, second):
            assert [e.portal for e in log.query()] == ["two", "one"]
    finally:
        first.close()
        second.close()


def names_in(directory: Path) -> set[str]:
    return {p.name for p in directory.iterdir()}


def gateway_config(database_url: str, directory: Path) -> Config:
    return Config.from_dict(
        {
            "admin": {"config": "file"},
            "settings": {
                "database_url": database_url,
                "request_log_path": str(directory / "requests.sqlite3"),
            },
        },
        base_dir=directory,
    )


async def test_gateways_on_postgresql_share_the_request_log(
    tmp_path: Path, pg_cluster: PgCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEMODE_SECRET_KEY", PG_SECRET_KEY)
    config = gateway_config(pg_cluster.new_database(), tmp_path)
    async with Gateway(config) as one, Gateway(config) as two:
        one.request_log.record(entry(1, portal="one"))
        two.request_log.record(entry(2, portal="two"))
        one.request_log.flush()
        assert [e.portal for e in two.request_log.query()] == ["two", "one"]
    # Not the SQLite file: that one was never created.
    assert "requests.sqlite3" not in names_in(tmp_path)


async def test_entries_recorded_while_postgresql_is_down_are_written_when_it_is_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEMODE_SECRET_KEY", PG_SECRET_KEY)
    with PgCluster.started() as cluster:
        settings = settings_for(tmp_path, database_url=cluster.new_database())
        async with open_store(settings) as store:  # migrated
            url = store.engine.url
        log = StoreRequestLog(url)
        try:
            log.record(entry(0))
            log.flush()
            await anyio.to_thread.run_sync(cluster.stop)
            for i in range(1, 4):
                log.record(entry(i))
            log.flush()  # the writer tried, and holds them
            with pytest.raises(StoreUnavailable):
                log.count()
            await anyio.to_thread.run_sync(cluster.start)
            log.flush()  # no new entry: the flush alone writes what was held
            assert [e.capability for e in log.query()] == [f"time_tool_{i}" for i in (3, 2, 1, 0)]
        finally:
            log.close()
