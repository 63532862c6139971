"""A gateway over a faulty upstream (HTTP and stdio) and a healthy one (mcp-server-time).

Servers: `time` (the healthy control), `faulty` (tests/upstreams/faulty.py over streamable
HTTP, call_timeout_s=1), `flooded` (the same process with a longer timeout, for floods that
must complete), `faultyold` (a second process that speaks only the 2025-era protocol, with
sessions and a standing SSE stream, call_timeout_s=1), `faultyio` (the same server over
stdio, call_timeout_s=1). One gateway per
module; each test starts from every server Ready.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from engine import Config, Gateway
from tests.upstreams.harness import RunningServer, running

VENV_BIN = Path(sys.executable).parent
CALL_TIMEOUT_S = 1.0
CONNECT_TIMEOUT_S = 2.0
SERVER_IDS = ("time", "faulty", "flooded", "faultyold", "faultyio")


def faulty_argv(*extra: str) -> list[str]:
    return [sys.executable, "-m", "tests.upstreams.faulty", "--port", "{port}", *extra]


def fault_config(url: str, legacy_url: str) -> Config:
    fast = {"call_timeout_s": CALL_TIMEOUT_S, "connect_timeout_s": CONNECT_TIMEOUT_S}
    return Config.from_dict(
        {
            "servers": [
                {"id": "time", "command": str(VENV_BIN / "mcp-server-time")},
                {"id": "faulty", "url": url, **fast},
                {"id": "flooded", "url": url, "call_timeout_s": 20, "connect_timeout_s": 5},
                {"id": "faultyold", "url": legacy_url, **fast},
                {
                    "id": "faultyio",
                    "command": sys.executable,
                    "args": ["-m", "tests.upstreams.faulty", "--stdio"],
                    "cwd": str(Path(__file__).resolve().parents[2]),
                    **fast,
                    "connect_timeout_s": 5,
                },
            ],
            "portals": [
                {
                    "id": "main",
                    "name": "Main",
                    "servers": [
                        {"server_id": s}
                        for s in ("time", "faulty", "flooded", "faultyold", "faultyio")
                    ],
                }
            ],
            "settings": {"request_log_path": ":memory:"},
        }
    )


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def faulty_server() -> Iterator[RunningServer]:
    with running(faulty_argv()) as server:
        yield server


@pytest.fixture(scope="module")
def legacy_server() -> Iterator[RunningServer]:
    with running(faulty_argv("--legacy")) as server:
        yield server


@pytest.fixture(scope="module")
async def gateway(
    faulty_server: RunningServer, legacy_server: RunningServer
) -> AsyncIterator[Gateway]:
    async with Gateway(fault_config(faulty_server.url, legacy_server.url)) as gw:
        yield gw
