"""Fixtures of the load tests: a `codemode serve` process per test (benchmarks/load.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
