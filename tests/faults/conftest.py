"""A gateway over a faulty upstream (HTTP and stdio) and a healthy one (mcp-server-time).

Servers: `time` (the healthy control), `faulty` (tests/upstreams/faulty.py over streamable
HTTP, call_timeout_s=1), `flooded` (the same process with a longer timeout, for floods that
must complete), `faultyold` (a second process that speaks only the 2025-era protocol, with
sessions and a standing SSE stream, call_timeout_s=1), `faultyio` (the same server over
stdio, call_timeout_s=1), `floodedio` (another stdio process, with the longer timeout of
`flooded`). One gateway for the
folder (package-scoped fixtures, used only here); each test first brings its servers Ready.

Package, not session, scope: while an async fixture lives, anyio's pytest plugin keeps its
runner and marks the main thread as running asyncio (sniffio's context variable), so a
session-scoped gateway made every later `anyio.run` in the main thread refuse ("Already
running asyncio in this thread"), failing unrelated tests in other folders.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import Config, Gateway
from tests.upstreams.harness import RunningServer, running

VENV_BIN = Path(sys.executable).parent
CALL_TIMEOUT_S = 1.0
CONNECT_TIMEOUT_S = 2.0
FLOOD_CALL_TIMEOUT_S = 20.0
"""A flood of 3000 notifications must complete: on 2 loaded cores reading them over stdio
took over CALL_TIMEOUT_S, which is for faults that must time out, not for slow work."""
STDIO_CONNECT_TIMEOUT_S = 30.0
"""Connecting to a stdio server starts a Python process that spends ~1.3 s of CPU importing the
SDK: over 5 s of wall time on 2 cores under CI load, and a timeout shorter than the start-up
kills every attempt, so the server never comes back. No test measures this timeout (the
connect-timeout tests use HTTP servers, which are already running): it is the product's
default."""


def faulty_argv(*extra: str) -> list[str]:
    return [sys.executable, "-m", "tests.upstreams.faulty", "--port", "{port}", *extra]


def fault_config(url: str, legacy_url: str, *, stdio: bool = True) -> Config:
    fast = {"call_timeout_s": CALL_TIMEOUT_S, "connect_timeout_s": CONNECT_TIMEOUT_S}
    servers: list[dict[str, Any]] = [
        {"id": "time", "command": str(VENV_BIN / "mcp-server-time")},
        {"id": "faulty", "url": url, **fast},
        {
            "id": "flooded",
            "url": url,
            "call_timeout_s": FLOOD_CALL_TIMEOUT_S,
            "connect_timeout_s": 5,
        },
        {"id": "faultyold", "url": legacy_url, **fast},
    ]
    if stdio:
        stdio_server = {
            "command": sys.executable,
            "args": ["-m", "tests.upstreams.faulty", "--stdio"],
            "cwd": str(Path(__file__).resolve().parents[2]),
            "connect_timeout_s": STDIO_CONNECT_TIMEOUT_S,
        }
        servers.append({"id": "faultyio", **stdio_server, "call_timeout_s": CALL_TIMEOUT_S})
        servers.append({"id": "floodedio", **stdio_server, "call_timeout_s": FLOOD_CALL_TIMEOUT_S})
    refs = [{"server_id": server["id"]} for server in servers]
    return Config.from_dict(
        {
            "servers": servers,
            "portals": [{"id": "main", "name": "Main", "servers": refs}],
            "settings": {"request_log_path": ":memory:"},
        }
    )


@pytest.fixture(scope="package")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="package")
def faulty_server() -> Iterator[RunningServer]:
    with running(faulty_argv()) as server:
        yield server


@pytest.fixture(scope="package")
def legacy_server() -> Iterator[RunningServer]:
    with running(faulty_argv("--legacy")) as server:
        yield server


@pytest.fixture(scope="package")
async def gateway(
    faulty_server: RunningServer, legacy_server: RunningServer
) -> AsyncIterator[Gateway]:
    async with Gateway(fault_config(faulty_server.url, legacy_server.url)) as gw:
        yield gw
