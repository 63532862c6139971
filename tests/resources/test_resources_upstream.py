"""Upstream side of subscriptions against npm's server-everything (stdio, 2025-11-25 era): an
update of a subscribed URI reaches the catalog's listeners, and after the server process dies
and is restarted, the new session is subscribed again without anyone asking."""

from __future__ import annotations

import os
import signal
import uuid

import pytest

from engine.catalog import Catalog
from engine.config import ServerConfig
from engine.status import ServerState
from tests.catalog.conftest import EVERYTHING, eventually
from tests.catalog.test_stdio_and_real_servers import processes_tagged

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed"),
]

URI = "demo://resource/dynamic/text/1"
TOGGLE = "toggle-subscriber-updates"


async def test_subscriptions_survive_an_upstream_restart() -> None:
    tag = f"codemode-test-{uuid.uuid4().hex}"
    config = ServerConfig(id="everything", command=str(EVERYTHING), args=["stdio", tag])
    updates: list[tuple[str, str]] = []
    async with Catalog([config]) as catalog:
        catalog.on_resource_updated(lambda sid, uri: updates.append((sid, uri)))
        await catalog.subscribe("everything", URI)
        assert catalog.subscribed("everything") == [URI]

        [pid] = processes_tagged(tag)
        os.kill(pid, signal.SIGKILL)  # the child this test started
        await eventually(
            lambda: catalog.status()["everything"].state is ServerState.ERROR, "server lost"
        )
        await eventually(
            lambda: catalog.status()["everything"].state is ServerState.READY, "server back"
        )
        assert catalog.subscribed("everything") == [URI]
        # The new process knows our session's subscription only if we sent it again.
        await catalog.call_tool("everything", TOGGLE, {})
        try:
            await eventually(lambda: ("everything", URI) in updates, "an update after restart")
        finally:
            await catalog.call_tool("everything", TOGGLE, {})
        await catalog.unsubscribe("everything", URI)
        assert catalog.subscribed("everything") == []


async def test_the_status_line_counts_resources_when_there_are_some() -> None:
    from engine.cli.report import status_line

    async with Catalog([ServerConfig(id="everything", command=str(EVERYTHING))]) as catalog:
        status = catalog.status()["everything"]
        listed = len(catalog.resources("everything")) + len(
            catalog.resource_templates("everything")
        )
    assert status.resource_count == listed >= 9
    assert status_line(status).endswith(f", {listed} resources)")
    assert "resource" not in status_line(status.model_copy(update={"resource_count": 0}))
