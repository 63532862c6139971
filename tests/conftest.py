import asyncio.events
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest

from tests.pg_cluster import PgCluster

SOLO = (
    "tests/load/",
    "tests/faults/",
    "tests/scale/",
    "tests/bench/",
    "tests/sandbox/test_bridge.py",
    "tests/egress/test_egress_admin.py",
    "tests/upstream_oauth/test_connect.py",
)
"""Tests that measure time or CPU shares (priorities, 1-2 s connect timeouts, CPU limits
against wall-clock limits, load and benchmark runs): `.ci/run` runs them alone, after the
parallel phase, because a neighbour worker on the same two cores made them fail in ways that
say nothing about the code (a nice-19 loop starved past its wall-clock limit)."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "solo: run alone, not beside other test workers")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    root = config.rootpath
    for item in items:
        path = item.path.relative_to(root).as_posix()
        if path.startswith(SOLO):
            item.add_marker(pytest.mark.solo)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL cluster per test session (per pytest-xdist worker: each is
    its own session), started on first use; tests take a new database each from it."""
    with PgCluster.started() as cluster:
        yield cluster


@pytest.fixture(autouse=True)
def _no_leaked_running_loop() -> Iterator[None]:
    """Fail the test that leaves this thread marked as running an asyncio loop: every later
    `anyio.run`/`asyncio.run` here would refuse, failing unrelated tests much later."""
    yield
    leaked = asyncio.events._get_running_loop()
    if leaked is not None:
        asyncio.events._set_running_loop(None)  # so that the tests after this one still run
        pytest.fail(f"this test left the main thread marked as running {leaked!r}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """Leaving a folder, the main thread must be able to start an event loop again. An async
    fixture scoped wider than its folder keeps anyio's test runner, which marks the thread
    as running asyncio until the fixture ends: tests elsewhere calling `anyio.run` refused
    ("Already running asyncio in this thread")."""
    result = yield
    if nextitem is None or nextitem.path.parent != item.path.parent:
        refused = _cannot_start_event_loop()
        if refused is not None:
            pytest.fail(
                f"after the tests of {item.path.parent}, anyio.run refuses in the main thread"
                f" ({refused}): an async fixture there outlives the folder (session scope?)"
            )
    return result


def _cannot_start_event_loop() -> str | None:
    try:
        anyio.run(anyio.lowlevel.checkpoint)
    except RuntimeError as error:
        return str(error)
    return None
