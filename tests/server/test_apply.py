"""`Gateway.apply` under the running HTTP app, seen by real `mcp` SDK clients that connected
before the change: added servers (streamable HTTP and stdio) reach them with list_changed on
the plain and the minimize_tools surfaces, in `query`'s search and inside a new code run;
removed ones leave all of these; a changed URL reconnects; curation changes and a sync are
announced too; a portal added live answers on its path and hostname, and a session on a
removed portal gets a clear error; portals coming and going leave no task behind."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
import uvicorn
from mcp.client.client import Client
from mcp.client.session import IncomingMessage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from engine import Config, Gateway
from engine.server.app import create_app
from tests.engine.test_apply import alive
from tests.server.conftest import eventually
from tests.upstreams.harness import RunningServer, demo_argv, free_port, running

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:The logging capability is deprecated"),
]

TINY = Path(__file__).parents[1] / "cli" / "tiny_upstream.py"
LIST_CHANGED = "notifications/tools/list_changed"
PROMPTS_CHANGED = "notifications/prompts/list_changed"
EXTRA_HOST = "extra.portal.test"


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningServer]:
    with running(demo_argv(), env={"DEMO_TOKEN": ""}) as server:
        yield server


@pytest.fixture(scope="module")
def other_demo() -> Iterator[RunningServer]:
    with running(demo_argv(), env={"DEMO_TOKEN": ""}) as server:
        yield server


def settings(
    directory: Path,
    servers: dict[str, str | None],
    portals: dict[str, dict[str, Any]] | None = None,
) -> Config:
    """Servers by id: an HTTP url, or None for a tiny stdio server (pid in `<id>.pid`).
    Portal `main` lists every server; `portals` adds others."""

    def server(sid: str, url: str | None) -> dict[str, Any]:
        if url is not None:
            return {"id": sid, "url": url}
        args = ["-S", str(TINY), str(directory / f"{sid}.pid")]
        return {"id": sid, "command": sys.executable, "args": args}

    refs = [{"server_id": sid} for sid in servers]
    return Config.from_dict(
        {
            "servers": [server(sid, url) for sid, url in servers.items()],
            "portals": [
                {"id": "main", "servers": refs},
                *({"id": pid, **p} for pid, p in (portals or {}).items()),
            ],
            "settings": {"request_log_path": ":memory:"},
        }
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield  # the test process keeps its own signal handlers


@asynccontextmanager
async def serving(config: Config) -> AsyncIterator[tuple[Gateway, str]]:
    """The gateway and its HTTP app on a free port, on this test's event loop."""
    async with Gateway(config) as gateway:
        port = free_port()
        options = uvicorn.Config(
            create_app(gateway),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=2,
        )
        server = _Server(options)
        async with anyio.create_task_group() as group:
            group.start_soon(server.serve)
            await eventually(lambda: server.started, "uvicorn listening")
            try:
                yield gateway, f"http://127.0.0.1:{port}"
            finally:
                server.should_exit = True


class Inbox:
    def __init__(self) -> None:
        self.methods: list[str] = []

    async def message(self, message: IncomingMessage) -> None:
        if not isinstance(message, Exception):
            self.methods.append(message.method)

    async def announced(self, *methods: str) -> None:
        wanted = methods or (LIST_CHANGED,)
        await eventually(lambda: set(wanted) <= set(self.methods), " and ".join(wanted))
        self.methods.clear()


@asynccontextmanager
async def connect(
    url: str, inbox: Inbox | None = None, *, mode: str = "legacy", **headers: str
) -> AsyncIterator[Client]:
    """A 2025-era session by default (list_changed arrives on its stream)."""
    http = create_mcp_http_client(headers=headers or None)
    handler = inbox.message if inbox is not None else None
    transport = streamable_http_client(url, http_client=http)
    async with Client(transport, mode=mode, message_handler=handler) as client:
        yield client


async def tool_names(client: Client) -> set[str]:
    return {t.name for t in (await client.list_tools()).tools}


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def run_code(client: Client, code: str) -> types.CallToolResult:
    return await client.call_tool("code", {"code": code})


CALL_DEMO = "return await codemode.demo_echo({value: 7});"


async def test_added_and_removed_servers_reach_connected_clients(
    demo: RunningServer, tmp_path: Path
) -> None:
    first = settings(tmp_path, {"one": None})
    both = settings(tmp_path, {"one": None, "demo": demo.url, "two": None})
    async with serving(first) as (gateway, base):
        plain, small = Inbox(), Inbox()
        async with (
            connect(f"{base}/mcp", plain) as client,
            connect(f"{base}/mcp?optimize_context=minimize_tools", small) as minimized,
            connect(f"{base}/mcp?codemode=search_and_execute") as coder,
            connect(f"{base}/mcp", mode="auto") as modern,
            modern.listen(tools_list_changed=True, prompts_list_changed=True) as events,
        ):
            assert modern.protocol_version == "2026-07-28"
            assert await tool_names(client) == {"one_echo"}
            assert await tool_names(minimized) == {"query", "one_echo"}
            assert (await run_code(coder, CALL_DEMO)).is_error

            await gateway.apply(both, by="test")
            await plain.announced(LIST_CHANGED, PROMPTS_CHANGED)  # demo has prompts
            await small.announced()
            with anyio.fail_after(15):
                await events.__anext__()  # a 2026-era listener hears it too
            await eventually(
                lambda: (
                    gateway.portal("main").status()["demo"].state.value == "Ready"
                    and gateway.portal("main").status()["two"].state.value == "Ready"
                ),
                "demo and two Ready",
            )
            assert {"one_echo", "two_echo", "demo_echo"} <= await tool_names(client)
            assert {"demo_echo", "two_echo"} <= await tool_names(minimized)
            found = await minimized.call_tool("query", {"query": "echo the arguments back"})
            assert "demo_echo" in text_of(found)  # the search index has the new server
            ran = await run_code(coder, CALL_DEMO)
            assert not ran.is_error and '"value": 7' in text_of(ran)  # a new run sees it
            two = int((tmp_path / "two.pid").read_text())

            plain.methods.clear()
            small.methods.clear()
            await gateway.apply(first)
            await plain.announced(LIST_CHANGED, PROMPTS_CHANGED)
            await small.announced()
            assert await tool_names(client) == {"one_echo"}
            assert await tool_names(modern) == {"one_echo"}
            assert (await client.list_prompts()).prompts == []
            assert await tool_names(minimized) == {"query", "one_echo"}
            found = await minimized.call_tool("query", {"query": "echo the arguments back"})
            assert "demo_echo" not in text_of(found)
            gone = await run_code(coder, CALL_DEMO)
            assert gone.is_error and "demo_echo" in text_of(gone)
            assert not alive(two)


async def _lists(client: Client, name: str) -> bool:
    return name in await tool_names(client)


async def test_a_changed_url_reconnects(
    demo: RunningServer, other_demo: RunningServer, tmp_path: Path
) -> None:
    async with (
        serving(settings(tmp_path, {"demo": demo.url})) as (gateway, base),
        connect(f"{base}/mcp") as client,
    ):
        await eventually(lambda: _lists(client, "demo_echo"), "demo listed")
        report = await gateway.apply(settings(tmp_path, {"demo": other_demo.url}))
        assert report.applied == ("servers[demo].url",)
        # The first upstream goes away: only a reconnected server still answers.
        demo.stop()
        try:
            await eventually(
                lambda: gateway.portal("main").status()["demo"].state.value == "Ready",
                "demo Ready on its new URL",
            )
            result = await client.call_tool("demo_echo", {"value": "moved"})
            assert not result.is_error, text_of(result)
        finally:
            demo.start()


async def test_a_portal_added_live_answers_and_a_removed_ones_sessions_get_an_error(
    tmp_path: Path,
) -> None:
    first = settings(tmp_path, {"one": None})
    alias = {"server_id": "one", "updated_tools": [{"name": "echo", "portal_alias": "hello"}]}
    extra = {"extra": {"hostname": EXTRA_HOST, "servers": [alias]}}
    async with serving(first) as (gateway, base):
        async with httpx2.AsyncClient() as http:
            missing = await http.post(f"{base}/p/extra/mcp", json={})
        assert missing.status_code == 404

        await gateway.apply(settings(tmp_path, {"one": None}, extra))
        async with connect(f"{base}/p/extra/mcp") as by_path:
            assert await tool_names(by_path) == {"one_hello"}
            async with connect(f"{base}/mcp", Host=EXTRA_HOST) as by_host:
                assert await tool_names(by_host) == {"one_hello"}

                await gateway.apply(first)
                # The SDK client's words for the 404 its session id now gets.
                with pytest.raises(MCPError, match="Session terminated"):
                    await by_path.list_tools()
            async with httpx2.AsyncClient() as http:
                gone = await http.post(f"{base}/mcp", json={}, headers={"Host": EXTRA_HOST})
                path = await http.post(f"{base}/p/extra/mcp", json={})
            assert gone.status_code == 421  # its hostname left with it
            assert path.status_code == 404
            assert "no portal 'extra' here (portals: main)" in path.json()["error"]


async def test_twenty_portal_add_remove_rounds_leave_no_task_behind(tmp_path: Path) -> None:
    first = settings(tmp_path, {"one": None})
    extra = settings(tmp_path, {"one": None}, {"extra": {"servers": [{"server_id": "one"}]}})
    async with serving(first) as (gateway, base), connect(f"{base}/mcp") as client:
        await tool_names(client)  # the app's own tasks are all running
        tasks = len(asyncio.all_tasks())
        for _ in range(20):
            await gateway.apply(extra)
            async with connect(f"{base}/p/extra/mcp") as visitor:
                assert await tool_names(visitor) == {"one_echo"}
            await gateway.apply(first)
        await tool_names(client)
        await eventually(lambda: len(asyncio.all_tasks()) <= tasks, "tasks back to before")
        assert len(asyncio.all_tasks()) == tasks


async def test_curation_changes_and_a_sync_reach_connected_clients(
    demo: RunningServer, tmp_path: Path
) -> None:
    plain = settings(tmp_path, {"demo": demo.url})
    renamed = plain.model_dump()
    renamed["portals"][0]["servers"][0]["updated_tools"] = [{"name": "echo", "portal_alias": "say"}]
    inbox = Inbox()
    async with serving(plain) as (gateway, base), connect(f"{base}/mcp", inbox) as client:
        await eventually(lambda: _lists(client, "demo_echo"), "demo listed")
        report = await gateway.apply(Config.from_dict(renamed))
        assert report.applied == ("portals[main].servers[demo].updated_tools",)
        await inbox.announced()
        names = await tool_names(client)
        assert "demo_say" in names and "demo_echo" not in names

        # A tool the upstream adds without telling anyone shows after a sync (the admin
        # API's servers/{id}/sync), announced as any other change.
        quiet = await client.call_tool("demo_mutate", {"name": "quiet", "notify": False})
        assert not quiet.is_error
        assert "demo_quiet" not in await tool_names(client)
        await gateway.catalog.sync("demo")
        await inbox.announced()
        assert "demo_quiet" in await tool_names(client)
