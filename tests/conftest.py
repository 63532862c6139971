from collections.abc import Iterator

import pytest

from tests.pg_cluster import PgCluster


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One throwaway PostgreSQL cluster per test session (per pytest-xdist worker: each is
    its own session), started on first use; tests take a new database each from it."""
    with PgCluster.started() as cluster:
        yield cluster
