"""Admin-API writes take effect for MCP clients connected before them (real `mcp` SDK
clients over HTTP): a server created and added to their portal shows up with
`notifications/tools/list_changed`, curation hides a tool, removal takes the tools away,
and `allow_code_mode: false` closes the code surface of a session already open on it.

The time from the write's answer to the client's `list_changed` is printed (run with `-s`);
it is a figure, not an assertion."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from anyio.from_thread import BlockingPortal
from mcp.client.client import Client
from mcp.client.session import IncomingMessage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.web.cf_write_helpers import PREFIX, Running, run_portal, seed_config, stdio_demo
from tests.web.conftest import _poll

pytestmark = pytest.mark.filterwarnings("ignore:The logging capability is deprecated")
WAIT_S = 30.0
LIST_CHANGED = "notifications/tools/list_changed"


@pytest.fixture(scope="module")
def cf(
    blocking_portal: BlockingPortal, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    tmp: Path = tmp_path_factory.mktemp("cflive")
    with run_portal(blocking_portal, seed_config(tmp), tmp) as r:
        r.wait_status("time", "Ready")
        yield r


class Inbox:
    def __init__(self) -> None:
        self.methods: list[str] = []
        self.changed = anyio.Event()
        self.changed_at = 0.0

    async def message(self, message: IncomingMessage) -> None:
        if isinstance(message, Exception):
            return
        self.methods.append(message.method)
        if message.method == LIST_CHANGED:
            self.changed_at = time.monotonic()
            self.changed.set()

    async def wait_changed(self, since: float) -> float:
        """Seconds from `since` (a write sent) to the list_changed (bounded); then rearm."""
        with anyio.fail_after(WAIT_S):
            await self.changed.wait()
        self.changed = anyio.Event()
        return self.changed_at - since


@asynccontextmanager
async def connect(url: str, inbox: Inbox) -> AsyncIterator[Client]:
    transport = streamable_http_client(url, http_client=create_mcp_http_client())
    async with Client(transport, mode="legacy", message_handler=inbox.message) as client:
        yield client


async def _names(client: Client) -> set[str]:
    return {t.name for t in (await client.list_tools()).tools}


def _text(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def _live(cf: Running) -> list[tuple[str, float]]:
    figures: list[tuple[str, float]] = []
    admin = {"Authorization": f"Bearer {cf.tokens['writer']}"}
    plain, code = Inbox(), Inbox()
    async with (
        httpx2.AsyncClient(base_url=cf.base + PREFIX, headers=admin, timeout=60) as api,
        connect(f"{cf.base}/p/main/mcp", plain) as client,
        connect(f"{cf.base}/p/main/mcp?codemode=search_and_execute", code) as coder,
    ):
        assert "local_echo" not in await _names(client)
        assert [t.name for t in (await coder.list_tools()).tools] == ["code"]

        async def put_main(**fields: Any) -> float:
            sent = time.monotonic()
            body = {"name": "Main", "servers": [{"server_id": "time"}], **fields}
            response = await api.put("/portals/main", json=body)
            assert response.status_code == 200, response.text
            return sent

        server = {"id": "local", "name": "Local", "auth_type": "unauthenticated", **stdio_demo()}
        assert (await api.post("/servers", json=server)).status_code == 200
        status = cf.gateway.catalog.status
        await _poll(lambda: status()["local"].state.value == "Ready", "local to be Ready")
        both = [{"server_id": "time"}, {"server_id": "local"}]
        sent = await put_main(servers=both)
        figures.append(("server added to the portal", await plain.wait_changed(sent)))
        assert "local_echo" in await _names(client)

        hidden = [
            {"server_id": "time"},
            {"server_id": "local", "updated_tools": [{"name": "echo", "enabled": False}]},
        ]
        sent = await put_main(servers=hidden)
        figures.append(("tool disabled by curation", await plain.wait_changed(sent)))
        names = await _names(client)
        assert "local_echo" not in names and "local_fail" in names

        sent = await put_main()
        figures.append(("server removed from the portal", await plain.wait_changed(sent)))
        assert not any(n.startswith("local_") for n in await _names(client))
        assert (await api.delete("/servers/local")).status_code == 200

        await put_main(allow_code_mode=False)
        refused = await coder.call_tool("code", {"code": "return 1"})
        assert refused.is_error and "code mode is off" in _text(refused)
    return figures


def test_writes_reach_clients_connected_before(
    cf: Running, blocking_portal: BlockingPortal
) -> None:
    figures = blocking_portal.call(_live, cf)
    for what, seconds in figures:
        print(f"write sent -> list_changed on the client: {what}: {seconds * 1000:.0f} ms")
    assert [w for w, _ in figures] == [
        "server added to the portal",
        "tool disabled by curation",
        "server removed from the portal",
    ]
