"""The pool of HTTP connections to an upstream keeps a bounded number idle: after a burst of
concurrent calls, each on its own connection, at most UPSTREAM_IDLE_CONNECTIONS stay open.
Without the bound, every connection of the burst stayed open (in CLOSE_WAIT once the upstream
dropped it) until the next call to that server, so a quiet server held one file descriptor
per call of its busiest moment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from engine import Config, Gateway, Surface
from engine.upstream import UPSTREAM_IDLE_CONNECTIONS
from tests.faults.support import ready
from tests.upstreams.harness import demo_argv, running

pytestmark = pytest.mark.anyio

BURST = 3 * UPSTREAM_IDLE_CONNECTIONS
STANDING = 1
"""The session's standing GET stream, which the demo (a 2025-era server) holds open."""


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def demo_port() -> Iterator[int]:
    with running(demo_argv()) as server:
        yield server.port


def sockets_to(port: int) -> int:
    """Our open TCP sockets whose peer is 127.0.0.1:`port`, whatever their state."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/self/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[2].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    ours = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            ours += 1
    return ours


async def test_a_burst_leaves_at_most_the_idle_bound_open(demo_port: int) -> None:
    config = Config.from_dict(
        {
            "servers": [{"id": "demo", "url": f"http://127.0.0.1:{demo_port}/mcp"}],
            "portals": [{"id": "main", "servers": [{"server_id": "demo"}]}],
            "settings": {"request_log_path": ":memory:"},
        }
    )
    async with Gateway(config) as gateway:
        portal = gateway.portal("main")
        await ready(portal, "demo")
        with anyio.fail_after(60):
            async with anyio.create_task_group() as group:
                for _ in range(BURST):
                    group.start_soon(portal.call_tool, Surface.ALL, "demo_slow", {"seconds": 1})
        open_after = sockets_to(demo_port)
    assert open_after <= UPSTREAM_IDLE_CONNECTIONS + STANDING, open_after
