"""Catalog against our demo upstream over real streamable HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import sys

import anyio
import httpx2
import pytest

from engine.catalog import Catalog
from engine.config import ServerConfig
from engine.status import ServerState, UpstreamError
from tests.catalog.conftest import (
    TOKEN,
    demo_stdio_args,
    eventually,
    eventually_async,
    is_ready,
    tool_names,
)
from tests.upstreams.harness import RunningServer, demo_argv, free_port, running

pytestmark = pytest.mark.anyio

FILLER = {f"tool_{i:02d}" for i in range(25)}
SPECIAL = {"echo", "fail", "slow", "mutate", "stats", "crash"}


def bearer(server: RunningServer, token_env: str, **timing: float) -> ServerConfig:
    base = ServerConfig(id="demo", url=server.url, auth_type="bearer", bearer_token_env=token_env)
    return base.model_copy(update=timing)


async def slow_stats(catalog: Catalog, server_id: str = "demo") -> dict[str, int]:
    result = await catalog.call_tool(server_id, "stats", {})
    text = result.content[0]
    assert text.type == "text"
    stats: dict[str, int] = json.loads(text.text)
    return stats


async def test_bearer_server_lists_every_page(demo: RunningServer, token_env: str) -> None:
    async with Catalog([bearer(demo, token_env)]) as catalog:
        status = catalog.status()["demo"]
        assert status.state is ServerState.READY
        assert status.error_details is None
        assert status.last_synced is not None
        assert status.last_successful_sync == status.last_synced
        # 31 tools over 4 pages of 10; 2 prompts at one per page.
        assert tool_names(catalog, "demo") == FILLER | SPECIAL
        assert (status.tool_count, status.prompt_count) == (31, 2)
        assert [p.name for p in catalog.prompts("demo")] == ["greet", "review"]
        assert status.protocol_version == "2026-07-28"


async def test_is_error_result_is_returned_not_raised(demo: RunningServer, token_env: str) -> None:
    async with Catalog([bearer(demo, token_env)]) as catalog:
        result = await catalog.call_tool("demo", "fail", {"reason": "boom"})
        assert result.is_error is True
        assert result.content[0].type == "text"
        assert "boom" in result.content[0].text
        echoed = await catalog.call_tool("demo", "echo", {"value": [1, 2]})
        assert echoed.is_error is False
        assert echoed.structured_content == {"value": [1, 2]}


async def test_prompts_are_served(demo: RunningServer, token_env: str) -> None:
    async with Catalog([bearer(demo, token_env)]) as catalog:
        prompt = await catalog.get_prompt("demo", "greet", {"name": "Ada"})
        content = prompt.messages[0].content
        assert content.type == "text"
        assert content.text == "greet: hello Ada"


async def test_rejected_credentials_are_an_error_without_the_secret(
    demo: RunningServer,
    token_env: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-" + TOKEN
    monkeypatch.setenv("CODEMODE_TEST_WRONG_TOKEN", wrong)
    servers = [
        bearer(demo, token_env),
        ServerConfig(id="anon", url=demo.url),
        ServerConfig(
            id="wrong",
            url=demo.url,
            auth_type="bearer",
            bearer_token_env="CODEMODE_TEST_WRONG_TOKEN",
        ),
        ServerConfig(
            id="unset", url=demo.url, auth_type="bearer", bearer_token_env="CODEMODE_TEST_UNSET"
        ),
    ]
    async with Catalog(servers) as catalog:
        status = catalog.status()
        assert status["demo"].state is ServerState.READY
        for sid in ("anon", "wrong"):
            details = status[sid].error_details
            assert status[sid].state is ServerState.ERROR
            assert details is not None
            assert (details.status_code, details.is_upstream, details.retryable) == (
                401,
                True,
                False,
            )
        wrong_details = status["wrong"].error_details
        assert wrong_details is not None
        assert "CODEMODE_TEST_WRONG_TOKEN" in wrong_details.cause
        unset = status["unset"].error_details
        assert unset is not None
        assert "CODEMODE_TEST_UNSET" in unset.cause
        assert "not set" in unset.cause
        assert unset.retryable is False
        with pytest.raises(UpstreamError) as raised:
            await catalog.call_tool("wrong", "echo", {})
        await catalog.call_tool("demo", "echo", {"value": 1})
        dumped = json.dumps({k: v.model_dump(mode="json") for k, v in status.items()})
    for secret in (TOKEN, wrong):
        assert secret not in dumped
        assert secret not in str(raised.value)
        assert secret not in caplog.text
    assert "401" in caplog.text  # the log did see the failures it must keep secrets out of


def by_era(era: str, request: pytest.FixtureRequest) -> ServerConfig:
    """The demo server as a 2026-era HTTP, 2025-era HTTP or stdio upstream (started lazily)."""
    if era == "2026":
        return bearer(request.getfixturevalue("demo"), request.getfixturevalue("token_env"))
    if era == "legacy":
        return ServerConfig(id="demo", url=request.getfixturevalue("legacy_demo").url)
    return ServerConfig(id="demo", command=sys.executable, args=demo_stdio_args())


@pytest.mark.parametrize("era", ["2026", "legacy", "stdio"])
async def test_list_changed_notifications_resync(era: str, request: pytest.FixtureRequest) -> None:
    config = by_era(era, request)
    async with Catalog([config]) as catalog:
        changes: list[str] = []
        catalog.on_change(changes.append)
        await catalog.call_tool("demo", "mutate", {"kind": "tool", "name": "added_tool"})
        await eventually(lambda: "added_tool" in tool_names(catalog, "demo"), "new tool listed")
        await catalog.call_tool("demo", "mutate", {"kind": "prompt", "name": "added_prompt"})
        await eventually(
            lambda: "added_prompt" in {p.name for p in catalog.prompts("demo")}, "new prompt listed"
        )
        assert "demo" in changes
        assert catalog.status()["demo"].tool_count == 32


async def test_interval_resync_picks_up_silent_changes(demo: RunningServer, token_env: str) -> None:
    async with Catalog([bearer(demo, token_env, sync_interval_s=0.2)]) as catalog:
        await catalog.call_tool("demo", "mutate", {"name": "quiet", "notify": False})
        await eventually(lambda: "quiet" in tool_names(catalog, "demo"), "interval re-sync")


async def test_on_demand_sync(demo: RunningServer, token_env: str) -> None:
    async with Catalog([bearer(demo, token_env)]) as catalog:
        first = catalog.status()["demo"].last_synced
        await catalog.call_tool("demo", "mutate", {"name": "quiet", "notify": False})
        assert "quiet" not in tool_names(catalog, "demo")
        status = await catalog.sync("demo")
        assert "quiet" in tool_names(catalog, "demo")
        assert status.state is ServerState.READY
        assert first is not None and status.last_synced is not None
        assert status.last_synced > first


async def test_per_server_timeout_cancels_the_upstream_call(
    demo: RunningServer, token_env: str
) -> None:
    async with Catalog([bearer(demo, token_env, call_timeout_s=0.5)]) as catalog:
        with pytest.raises(UpstreamError) as raised:
            await catalog.call_tool("demo", "slow", {"seconds": 30})
        assert raised.value.retryable
        assert "0.5 s" in raised.value.message
        with pytest.raises(UpstreamError) as overridden:
            await catalog.call_tool("demo", "slow", {"seconds": 30}, timeout_s=0.25)
        assert "0.25 s" in overridden.value.message

        async def both_cancelled() -> bool:
            return (await slow_stats(catalog))["slow_cancelled"] == 2

        await eventually_async(both_cancelled, "upstream saw both calls cancelled")
        # Longer than the server's default timeout, shorter than a per-call one: succeeds.
        done = await catalog.call_tool("demo", "slow", {"seconds": 0.6}, timeout_s=20)
        assert not done.is_error
        assert catalog.status()["demo"].state is ServerState.READY


@pytest.mark.parametrize("era", ["2026", "legacy", "stdio"])
async def test_cancelling_the_caller_cancels_upstream(
    era: str, request: pytest.FixtureRequest
) -> None:
    config = by_era(era, request)
    async with Catalog([config]) as catalog:
        async with anyio.create_task_group() as tg:

            async def call() -> None:
                await catalog.call_tool("demo", "slow", {"seconds": 30})

            tg.start_soon(call)

            async def started() -> bool:
                return (await slow_stats(catalog))["slow_started"] == 1

            await eventually_async(started, "slow call running upstream")
            tg.cancel_scope.cancel()

        async def cancelled() -> bool:
            return (await slow_stats(catalog))["slow_cancelled"] == 1

        await eventually_async(cancelled, "upstream handler cancelled")


async def test_expired_session_is_reestablished_and_call_retried(
    legacy_demo: RunningServer,
) -> None:
    async with Catalog([ServerConfig(id="demo", url=legacy_demo.url)]) as catalog:
        assert catalog.status()["demo"].protocol_version == "2025-11-25"
        await catalog.call_tool("demo", "echo", {"value": 1})
        async with httpx2.AsyncClient() as http:
            forgotten = (await http.post(f"{legacy_demo.base}/admin/forget-sessions")).json()
            assert forgotten == {"forgotten": 1}
            results: dict[int, object] = {}

            async def call(i: int) -> None:
                results[i] = (
                    await catalog.call_tool("demo", "echo", {"value": i})
                ).structured_content

            async with anyio.create_task_group() as tg:
                for i in range(5):
                    tg.start_soon(call, i)
            assert results == {i: {"value": i} for i in range(5)}
            # The five retries shared one new session, which the server now knows.
            again = (await http.post(f"{legacy_demo.base}/admin/forget-sessions")).json()
            assert again == {"forgotten": 1}
        assert catalog.status()["demo"].state is ServerState.READY


async def test_upstream_restart_is_survived(legacy_demo: RunningServer) -> None:
    async with Catalog([ServerConfig(id="demo", url=legacy_demo.url)]) as catalog:
        await catalog.call_tool("demo", "echo", {"value": 1})
        await anyio.to_thread.run_sync(legacy_demo.restart)
        result = await catalog.call_tool("demo", "echo", {"value": 2})
        assert result.structured_content == {"value": 2}


async def test_unreachable_server_never_blocks_the_others(
    demo: RunningServer, token_env: str
) -> None:
    down = ServerConfig(id="down", url=f"http://127.0.0.1:{free_port()}/mcp")
    oauth = ServerConfig(id="oauth", url=demo.url, auth_type="oauth")
    async with Catalog([down, bearer(demo, token_env), oauth]) as catalog:
        status = catalog.status()
        assert status["demo"].state is ServerState.READY
        assert status["down"].state is ServerState.ERROR
        details = status["down"].error_details
        assert details is not None
        assert (details.is_upstream, details.retryable) == (False, True)
        assert "cannot reach" in details.cause
        assert catalog.tools("down") == []
        oauth_details = status["oauth"].error_details
        assert oauth_details is not None
        assert oauth_details.cause == "oauth not configured"
        assert oauth_details.retryable is False
        with anyio.fail_after(5):  # a bound on "promptly", not a speed measurement
            with pytest.raises(UpstreamError) as raised:
                await catalog.call_tool("down", "anything", {})
        assert raised.value.retryable
        assert raised.value.server_id == "down"
        with pytest.raises(UpstreamError) as oauth_raised:
            await catalog.call_tool("oauth", "anything", {})
        assert not oauth_raised.value.retryable
        assert not (await catalog.call_tool("demo", "echo", {})).is_error


async def test_call_that_kills_the_server_is_a_retryable_error(
    demo: RunningServer, token_env: str
) -> None:
    async with Catalog([bearer(demo, token_env)]) as catalog:
        with pytest.raises(UpstreamError) as raised:
            await catalog.call_tool("demo", "crash", {})
        assert raised.value.retryable
        assert not raised.value.details.is_upstream
        await eventually(lambda: catalog.status()["demo"].state is ServerState.ERROR, "Error")
        assert catalog.tools("demo") == []


@pytest.mark.parametrize("era", ["2026", "legacy"])
async def test_dead_http_server_leaves_and_comes_back(
    era: str, request: pytest.FixtureRequest
) -> None:
    # 2026 era: the dropped subscriptions/listen stream reveals the death, no interval needed.
    # 2025 era has no such signal (the SSE stream just ends), so the interval re-sync finds it.
    config = by_era(era, request)
    server: RunningServer = request.getfixturevalue("demo" if era == "2026" else "legacy_demo")
    if era == "legacy":
        config = config.model_copy(update={"sync_interval_s": 0.3})
    async with Catalog([config]) as catalog:
        seen: list[tuple[ServerState, int]] = []
        catalog.on_change(
            lambda sid: seen.append((catalog.status()[sid].state, len(catalog.tools(sid))))
        )
        await anyio.to_thread.run_sync(server.kill)
        await eventually(lambda: (ServerState.ERROR, 0) in seen, "server in Error, tools gone")
        details = catalog.status()["demo"].error_details
        assert details is not None
        assert (details.is_upstream, details.retryable) == (False, True)
        with anyio.fail_after(5):
            with pytest.raises(UpstreamError):
                await catalog.call_tool("demo", "echo", {})
        await anyio.to_thread.run_sync(server.start)
        await eventually(lambda: is_ready(catalog, "demo"), "reconnected after restart")
        assert len(catalog.tools("demo")) == 31
        assert not (await catalog.call_tool("demo", "echo", {})).is_error


async def test_cursor_loop_ends_the_walk() -> None:
    with running(demo_argv("--cursor-loop")) as looping:
        async with Catalog([ServerConfig(id="loop", url=looping.url)]) as catalog:
            assert catalog.status()["loop"].state is ServerState.READY
            assert tool_names(catalog, "loop") == {f"tool_{i:02d}" for i in range(10)}


async def test_status_is_waiting_until_connected(demo: RunningServer, token_env: str) -> None:
    catalog = Catalog([bearer(demo, token_env)])
    before = catalog.status()["demo"]
    assert before.state is ServerState.WAITING
    assert before.last_synced is None
    assert catalog.tools("demo") == []
    with pytest.raises(UpstreamError) as raised:
        await catalog.call_tool("demo", "echo", {})
    assert raised.value.retryable
    async with catalog:
        assert catalog.status()["demo"].state is ServerState.READY
    with pytest.raises(KeyError, match="known: demo"):
        catalog.tools("nope")
