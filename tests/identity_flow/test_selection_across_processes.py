"""A client's server choice changed on one portal process reaches that client's 2025-era
session on another process as `tools/list_changed`, and its next list shows the change: two
`codemode serve` processes on one SQLite store (as workers on one host, or replicas on one
database), `[identity] provider = "dev"`. The client session is on process 1; the same
client grant turns a server off through process 2 (a 2026-era client, as a page behind a
balancer would land anywhere)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import tests.cli.test_serve as cli_serve
from tests.identity.test_server_selection import LIST_CHANGED, Inbox, connect, names
from tests.identity_flow.dev_portal import dev_portal_toml
from tests.identity_flow.devflow import connect_client
from tests.scale.conftest import client
from tests.server.conftest import VENV_BIN, eventually
from tests.upstreams.harness import free_port

pytestmark = pytest.mark.anyio


def config(directory: Path) -> Path:
    time_server = {"command": str(VENV_BIN / "mcp-server-time")}
    return dev_portal_toml(
        directory,
        {"time": time_server, "clock": time_server},
        database_url=f"sqlite+aiosqlite:///{directory / 'codemode.db'}",
        settings={"request_log_path": ":memory:"},
    )


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[str, str]]:
    path = config(tmp_path)
    ports = free_port(), free_port()
    served: list[cli_serve.Served] = []
    try:
        for port in ports:  # one after the other: the first creates the store and its key
            argv = ["serve", "--config", str(path), "--port", str(port)]
            served.append(cli_serve.Served(argv, env=dict(os.environ)))
            served[-1].wait_for_line("portal team")
        yield f"http://127.0.0.1:{ports[0]}", f"http://127.0.0.1:{ports[1]}"
    finally:
        for process in served:
            process.stop()


async def test_a_choice_made_on_another_process_is_announced_here(
    two_processes: tuple[str, str],
) -> None:
    first, second = two_processes
    token = (await connect_client(first, "ana@example.com")).access_token
    inbox = Inbox()
    async with connect(f"{first}/mcp", token, inbox) as session:
        assert "clock_get_current_time" in await names(session)
        # The name clients use is process 1's (a balancer's, in production): tokens are
        # issued for that resource.
        host = first.removeprefix("http://")
        async with client(f"{second}/mcp", token, host=host) as elsewhere:
            off = await elsewhere.call_tool(
                "portal_servers", {"action": "disable", "server": "clock"}
            )
            assert not off.is_error, off
        answered = time.monotonic()
        await eventually(lambda: LIST_CHANGED in inbox.methods, "list_changed on process 1")
        elapsed_ms = (time.monotonic() - answered) * 1000
        print(f"turned off via process 2 -> list_changed on process 1: {elapsed_ms:.0f} ms")
        listed = await names(session)
        assert "clock_get_current_time" not in listed and "time_get_current_time" in listed
