"""Per-caller views against the real upstreams of tests/engine/conftest.py: two API keys
under different policies see different tools in tools/list, in `query`, and inside `code`
(a hidden `codemode.<name>` does not exist for the one, `codemode.search` does not find it);
a caller let into a portal but into none of its servers gets "No allowed servers available"
on every call; an anonymous caller of a portal with policies gets nothing."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from mcp_types import CallToolResult, TextContent

from engine import Config, Gateway, Portal, Surface
from engine.auth import ANONYMOUS, NO_ALLOWED_SERVERS, Principal
from tests.engine.conftest import TOKEN, TOKEN_ENV, portal_config
from tests.env import restore_env

pytestmark = pytest.mark.anyio

CI = Principal.for_service("ci")
BOT = Principal.for_service("bot")


def access_config(demo_url: str, git_repo: Path) -> Config:
    """conftest's portal `main` (time, git, demo, down) behind policies: every API key may
    enter; `time` is open (no policies, no [identity]); git, demo and down are for `ci` only.
    Portal `gitonly` lets every key in but shows only git: `bot` is in, with no server."""
    data: dict[str, Any] = portal_config(demo_url, git_repo).model_dump(exclude_none=True)
    data["policies"] = [
        {"id": "keys", "decision": "allow", "include": [{"everyone": True}]},
        {"id": "ci-only", "decision": "allow", "include": [{"service": "ci"}]},
    ]
    for server in data["servers"]:
        if server["id"] != "time":
            server["policies"] = ["ci-only"]
    main = data["portals"][0]
    main["policies"] = ["keys"]
    data["portals"].append(
        {"id": "gitonly", "policies": ["keys"], "servers": [{"server_id": "git"}]}
    )
    return Config.from_dict(data)


@pytest.fixture(scope="module")
async def gateway(demo_url: str, git_repo: Path) -> AsyncIterator[Gateway]:
    previous_env = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = TOKEN
    try:
        async with Gateway(access_config(demo_url, git_repo)) as gw:
            yield gw
    finally:
        restore_env(TOKEN_ENV, previous_env)


def text(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


async def run(portal: Portal, who: Principal, source: str) -> CallToolResult:
    return await portal.call_tool(Surface.CODEMODE, "code", {"code": source}, principal=who)


def names(portal: Portal, surface: Surface, who: Principal | None) -> set[str]:
    return {t.name for t in portal.list_tools(surface, who)}


async def test_tools_list_differs_per_key(portal: Portal) -> None:
    every = names(portal, Surface.ALL, None)
    assert names(portal, Surface.ALL, CI) == every
    bot = names(portal, Surface.ALL, BOT)
    assert bot and all(n.startswith("time_") for n in bot)
    assert {"git_history", "demo_echo"} <= every - bot
    assert names(portal, Surface.MINIMIZE_TOOLS, BOT) == {*bot, "query"}
    assert names(portal, Surface.CODEMODE, BOT) == {"code"}
    assert [p.name for p in portal.list_prompts(BOT)] == []
    assert {"demo_greet", "demo_review"} <= {p.name for p in portal.list_prompts(CI)}


async def test_query_finds_only_visible_tools(portal: Portal) -> None:
    for who, found in ((CI, True), (BOT, False)):
        result = await portal.call_tool(
            Surface.MINIMIZE_TOOLS,
            "query",
            {"query": "commit history log", "limit": 50},
            principal=who,
        )
        assert ("git_history" in text(result)) is found, who
        matches = (result.structured_content or {}).get("matches", [])
        assert all(m["server"] == "time" for m in matches) or who is CI


async def test_hidden_tool_does_not_exist_inside_code(portal: Portal) -> None:
    probe = """
    const found = await codemode.search("commit history log", { limit: 50 });
    let called;
    try { await codemode.git_history({ repo_path: "." }); called = "ran"; }
    catch (e) { called = e.name + ": " + e.message; }
    return { found, called, type: typeof codemode.git_history };
    """
    ci = await run(portal, CI, probe)
    bot = await run(portal, BOT, probe)
    assert not ci.is_error and not bot.is_error, (text(ci), text(bot))
    assert "git_history" in text(ci)
    assert "git_history(" not in text(bot) and "demo_" not in text(bot).replace("TypeError", "")
    assert "codemode.git_history is not a tool available to this code" in text(bot)
    described = await run(portal, BOT, 'return await codemode.describe("git_history")')
    assert described.is_error and "no tool named" in text(described)


async def test_direct_call_of_a_hidden_tool_is_unknown(portal: Portal) -> None:
    result = await portal.call_tool(Surface.ALL, "git_history", {"repo_path": "."}, principal=BOT)
    assert result.is_error and "unknown tool 'git_history'" in text(result)
    assert "git_status" not in text(result) and "down" not in text(result)  # nothing hidden named
    ok = await portal.call_tool(
        Surface.ALL, "time_get_current_time", {"timezone": "UTC"}, principal=BOT
    )
    assert not ok.is_error


async def test_request_log_names_the_key(portal: Portal, gateway: Gateway) -> None:
    await portal.call_tool(Surface.ALL, "time_get_current_time", {"timezone": "UTC"}, principal=BOT)
    row = gateway.request_log.query(portal="main", limit=1)[0]
    assert row.user == "bot"


async def test_in_the_portal_but_no_server(gateway: Gateway) -> None:
    portal = gateway.portal("gitonly")
    assert names(portal, Surface.ALL, BOT) == set()
    assert names(portal, Surface.CODEMODE, BOT) == {"code"}  # so the error can be seen
    expected = f"{NO_ALLOWED_SERVERS} (portal policies: keys; server policies: ci-only)"
    for surface, tool, args in (
        (Surface.CODEMODE, "code", {"code": "return 1"}),
        (Surface.SEARCH_AND_EXECUTE, "query", {"query": "git"}),
        (Surface.ALL, "git_history", {}),
    ):
        result = await portal.call_tool(surface, tool, args, principal=BOT)
        assert result.is_error and text(result) == expected
    ran = await portal.call_tool(Surface.CODEMODE, "code", {"code": "return 1"}, principal=CI)
    assert not ran.is_error


async def test_anonymous_caller_of_a_portal_with_policies(portal: Portal) -> None:
    assert names(portal, Surface.ALL, ANONYMOUS) == set()
    result = await run(portal, ANONYMOUS, "return 1")
    assert result.is_error and text(result) == (
        "an anonymous caller may not use portal 'main': no allow policy matches (policies: keys)"
    )


async def test_views_are_cached_per_visible_set_until_refresh(portal: Portal) -> None:
    first = portal.view_for(portal.access(BOT))
    assert portal.view_for(portal.access(Principal.for_service("other"))) is first
    assert portal.view_for(portal.access(CI)) is portal.view
    assert first.index is first.index  # one search index per view, not per request
    portal.refresh()
    assert portal.view_for(portal.access(BOT)) is not first
