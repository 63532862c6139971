"""Upstream log notifications reach the portal's 2025-11-25 clients at their level.

The upstream is tests/upstreams/faulty.py over stdio: its `flood` tool writes `count`
notifications to the wire (every third one `notifications/message`, level info, data "spam").
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from engine import Config
from tests.server.conftest import ServedPortal, eventually

pytestmark = [
    pytest.mark.anyio,
    # 2025-era clients still use logging/setLevel; the SDK warns that 2026-07-28 dropped it.
    pytest.mark.filterwarnings("ignore:The logging capability is deprecated"),
]

SERVER_ID = "noisy"
FLOOD = f"{SERVER_ID}_flood"
FLOOD_COUNT = 9
"""Three of them are log notifications."""
LOGS_PER_FLOOD = 3


def noisy_config() -> Config:
    server = {
        "id": SERVER_ID,
        "command": sys.executable,
        "args": ["-m", "tests.upstreams.faulty", "--stdio"],
        "cwd": str(Path(__file__).resolve().parents[2]),
        "connect_timeout_s": 10,
    }
    return Config.from_dict(
        {
            "servers": [server],
            "portals": [{"id": "main", "name": "Main", "servers": [{"server_id": SERVER_ID}]}],
            "settings": {"request_log_path": ":memory:"},
        }
    )


@pytest.fixture(scope="module")
def noisy() -> Iterator[ServedPortal]:
    portal = ServedPortal(noisy_config())
    portal.start()
    try:
        yield portal
    finally:
        portal.stop()


class Logs:
    def __init__(self) -> None:
        self.received: list[types.LoggingMessageNotificationParams] = []

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.received.append(params)


@asynccontextmanager
async def legacy(url: str, logs: Logs) -> AsyncIterator[Client]:
    async with Client(
        streamable_http_client(url), mode="legacy", logging_callback=logs.log
    ) as client:
        yield client


async def test_upstream_logs_reach_2025_sessions_at_their_level(noisy: ServedPortal) -> None:
    chatty, quiet = Logs(), Logs()
    async with legacy(noisy.url, chatty) as a, legacy(noisy.url, quiet) as b:

        async def listed() -> bool:
            return FLOOD in {t.name for t in (await a.list_tools()).tools}

        await eventually(listed, "the upstream's flood tool is listed")
        await a.set_logging_level("debug")
        await b.set_logging_level("error")

        result = await a.call_tool(FLOOD, {"count": FLOOD_COUNT})
        assert not result.is_error
        await eventually(
            lambda: len(chatty.received) >= LOGS_PER_FLOOD, "the debug session gets the logs"
        )
        assert {(m.level, m.data, m.logger) for m in chatty.received} == {
            ("info", "spam", SERVER_ID)
        }

        # Lines go out in order on each session's one standalone stream: once the quiet
        # session sees its own flood's lines, any earlier line would have arrived before them.
        await b.set_logging_level("info")
        await b.call_tool(FLOOD, {"count": FLOOD_COUNT})
        await eventually(
            lambda: len(quiet.received) >= LOGS_PER_FLOOD, "the info session gets its logs"
        )
        assert len(quiet.received) == LOGS_PER_FLOOD
