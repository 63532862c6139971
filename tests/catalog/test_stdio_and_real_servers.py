"""Catalog against stdio servers (ours and PyPI's) and npm's server-everything in both modes."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from pathlib import Path

import anyio
import mcp_types
import pytest

from engine.catalog import Catalog
from engine.config import ServerConfig
from engine.status import ServerState, UpstreamError
from engine.upstream import backoff_delays
from tests.catalog.conftest import EVERYTHING, VENV_BIN, demo_stdio_args, eventually, tool_names
from tests.upstreams.harness import running

pytestmark = pytest.mark.anyio


def processes_tagged(tag: str) -> list[int]:
    """PIDs whose command line carries `tag` (our way to spot leaked children)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if tag.encode() in cmdline:
            found.append(int(proc.name))
    return found


async def test_stdio_child_is_restarted_and_tools_come_back() -> None:
    tag = uuid.uuid4().hex
    config = ServerConfig(id="demo", command=sys.executable, args=demo_stdio_args(tag))
    async with Catalog([config]) as catalog:
        first = catalog.status()["demo"]
        assert first.state is ServerState.READY
        assert len(processes_tagged(tag)) == 1
        seen: list[tuple[ServerState, int]] = []
        catalog.on_change(
            lambda sid: seen.append((catalog.status()[sid].state, len(catalog.tools(sid))))
        )
        with pytest.raises(UpstreamError) as raised:
            await catalog.call_tool("demo", "crash", {})
        assert raised.value.retryable
        assert not raised.value.details.is_upstream
        await eventually(lambda: (ServerState.READY, 31) in seen, "restarted and re-synced")
        # While it was down its tools were gone, and the error said why.
        assert (ServerState.ERROR, 0) in seen
        assert seen.index((ServerState.ERROR, 0)) < seen.index((ServerState.READY, 31))
        restarted = catalog.status()["demo"]
        assert restarted.last_successful_sync is not None
        assert first.last_successful_sync is not None
        assert restarted.last_successful_sync > first.last_successful_sync
        assert not (await catalog.call_tool("demo", "echo", {})).is_error
        assert len(processes_tagged(tag)) == 1
    assert processes_tagged(tag) == []


async def test_exit_leaves_no_tasks_or_children() -> None:
    tag = uuid.uuid4().hex
    before = len(asyncio.all_tasks())
    servers = [
        ServerConfig(id=f"d{i}", command=sys.executable, args=demo_stdio_args(tag))
        for i in range(3)
    ]
    async with Catalog(servers) as catalog:
        assert all(s.state is ServerState.READY for s in catalog.status().values())
        assert len(processes_tagged(tag)) == 3
    assert processes_tagged(tag) == []
    assert len(asyncio.all_tasks()) == before


SERVICE_KEY = "svc-" + uuid.uuid4().hex
DIES = (
    "import os, sys; "
    "print('config broken, key=' + os.environ['SERVICE_KEY'], file=sys.stderr); "
    "print('giving up', file=sys.stderr); sys.exit(2)"
)


async def test_stdio_server_that_cannot_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEMODE_TEST_SERVICE_KEY", SERVICE_KEY)
    servers = [
        ServerConfig(id="missing", command="/nonexistent/mcp-server"),
        ServerConfig(
            id="dies",
            command=sys.executable,
            args=["-c", DIES],
            env={"SERVICE_KEY": "${CODEMODE_TEST_SERVICE_KEY}"},
        ),
        ServerConfig(id="time", command=str(VENV_BIN / "mcp-server-time")),
    ]
    async with Catalog(servers) as catalog:
        status = catalog.status()
        missing = status["missing"].error_details
        assert missing is not None
        assert "command not found" in missing.cause
        assert missing.retryable is False
        dies = status["dies"].error_details
        assert dies is not None
        assert (dies.is_upstream, dies.retryable) == (False, True)
        # The server's last words are in the cause, minus the secret it was handed.
        assert "stderr: config broken, key=*** | giving up" in dies.cause
        assert SERVICE_KEY not in dies.cause
        assert status["time"].state is ServerState.READY
        with anyio.fail_after(5):
            with pytest.raises(UpstreamError) as raised:
                await catalog.call_tool("dies", "x", {})
        assert raised.value.retryable


async def test_time_and_git_servers(git_repo: Path) -> None:
    tmp_path = git_repo
    servers = [
        ServerConfig(id="time", command=str(VENV_BIN / "mcp-server-time")),
        ServerConfig(
            id="git", command=str(VENV_BIN / "mcp-server-git"), args=["--repository", str(tmp_path)]
        ),
    ]
    async with Catalog(servers) as catalog:
        assert tool_names(catalog, "time") == {"get_current_time", "convert_time"}
        assert len(catalog.tools("git")) == 12
        assert "git_status" in tool_names(catalog, "git")
        now = await catalog.call_tool("time", "get_current_time", {"timezone": "UTC"})
        assert not now.is_error
        assert now.content[0].type == "text"
        assert json.loads(now.content[0].text)["timezone"] == "UTC"
        git = await catalog.call_tool("git", "git_status", {"repo_path": str(tmp_path)})
        assert not git.is_error
        assert git.content[0].type == "text"
        assert "branch" in git.content[0].text.lower()
        # A tool the server rejects at protocol level is an UpstreamError, not a crash.
        bad = await _call_or_error(catalog, "time", "no_such_tool")
        assert isinstance(bad, UpstreamError) or bad.is_error
        assert catalog.status()["time"].state is ServerState.READY


async def _call_or_error(
    catalog: Catalog, sid: str, name: str
) -> mcp_types.CallToolResult | UpstreamError:
    try:
        return await catalog.call_tool(sid, name, {})
    except UpstreamError as exc:
        assert exc.details.is_upstream
        return exc


async def test_everything_over_stdio() -> None:
    config = ServerConfig(id="everything", command=str(EVERYTHING))
    async with Catalog([config]) as catalog:
        status = catalog.status()["everything"]
        assert status.state is ServerState.READY
        assert status.tool_count == 13
        assert status.prompt_count >= 1
        echo = await catalog.call_tool("everything", "echo", {"message": "hi"})
        assert echo.content[0].type == "text"
        assert echo.content[0].text == "Echo: hi"
        prompt = catalog.prompts("everything")[0]
        required = {a.name: "x" for a in prompt.arguments or [] if a.required}
        got = await catalog.get_prompt("everything", prompt.name, required)
        assert got.messages


async def test_everything_over_streamable_http() -> None:
    with running([str(EVERYTHING), "streamableHttp"]) as server:
        async with Catalog([ServerConfig(id="everything", url=server.url)]) as catalog:
            status = catalog.status()["everything"]
            assert status.state is ServerState.READY, status.error_details
            assert status.tool_count == 13
            echo = await catalog.call_tool("everything", "echo", {"message": "hi"})
            assert echo.content[0].type == "text"
            assert echo.content[0].text == "Echo: hi"


def test_backoff_doubles_and_is_capped() -> None:
    delays = backoff_delays()
    first = [next(delays) for _ in range(9)]
    assert first == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]


async def test_silent_server_hits_its_own_connect_timeout() -> None:
    silent = ServerConfig(
        id="silent",
        command=sys.executable,
        args=["-c", "import time; time.sleep(60)"],
        connect_timeout_s=1,
    )
    time_server = ServerConfig(id="time", command=str(VENV_BIN / "mcp-server-time"))
    async with Catalog([silent, time_server]) as catalog:
        status = catalog.status()
        assert status["time"].state is ServerState.READY
        details = status["silent"].error_details
        assert details is not None
        assert "connect_timeout_s=1 s" in details.cause
        assert details.retryable
