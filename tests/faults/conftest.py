"""A gateway over a faulty upstream (HTTP and stdio) and a healthy one (mcp-server-time).

Servers: `time` (the healthy control), `faulty` (tests/upstreams/faulty.py over streamable
HTTP, call_timeout_s=1), `flooded` (the same process with a longer timeout, for floods that
must complete), `faultyio` (the same server over stdio, call_timeout_s=1). One gateway per
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


def faulty_argv(*extra: str) -> list[str]:
    return [sys.executable, "-m", "tests.upstreams.faulty", "--port", "{port}", *extra]


def fault_config(url: str) -> Config:
    fast = {"call_timeout_s": CALL_TIMEOUT_S, "connect_timeout_s": CONNECT_TIMEOUT_S}
    return Config.from_dict(
        {
            "servers": [
                {"id": "time", "command": str(VENV_BIN / "mcp-server-time")},
                {"id": "faulty", "url": url, **fast},
                {"id": "flooded", "url": url, "call_timeout_s": 20, "connect_timeout_s": 5},
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
                        {"server_id": s} for s in ("time", "faulty", "flooded", "faultyio")
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
async def gateway(faulty_server: RunningServer) -> AsyncIterator[Gateway]:
    async with Gateway(fault_config(faulty_server.url)) as gw:
        yield gw
