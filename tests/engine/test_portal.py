"""The engine against real upstreams: surfaces, code runs, curation, errors, logs, prompts."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp_types import CallToolResult, TextContent

from engine import Gateway, Portal, ServerState, Surface
from engine.surfaces import CODE_TOOL, QUERY_TOOL
from stubs import count_tokens
from tests.engine.conftest import TOKEN

pytestmark = pytest.mark.anyio


def text(result: CallToolResult) -> str:
    return "\n".join(b.text for b in result.content if isinstance(b, TextContent))


def payload(result: CallToolResult) -> Any:
    return json.loads(text(result))


async def code(portal: Portal, source: str, surface: Surface = Surface.CODEMODE) -> Any:
    name = "code" if surface is Surface.CODEMODE else "execute"
    return await portal.call_tool(surface, name, {"code": source}, user="tester")


# -- surfaces -------------------------------------------------------------------------------


async def test_all_surface_lists_curated_namespaced_tools(portal: Portal) -> None:
    names = {t.name for t in portal.list_tools(Surface.ALL)}
    assert {"time_get_current_time", "time_convert_time", "demo_echo", "demo_tool_24"} <= names
    assert "git_history" in names and "git_log" not in names  # server alias
    assert "git_status" in names  # portal alias is "status" -> namespaced
    assert "demo_crash" not in names and "git_git_reset" not in names  # disabled
    described = {t.name: t.description for t in portal.list_tools(Surface.ALL)}
    assert described["git_history"] == "Commit history (server override)."
    assert described["git_status"] == "Working tree status (portal)."
    assert all(len(n) <= 64 for n in names)


async def test_minimize_tools_surface(portal: Portal) -> None:
    tools = portal.list_tools(Surface.MINIMIZE_TOOLS)
    assert tools[-1] == QUERY_TOOL
    for tool in tools[:-1]:
        assert tool.description == ""
        assert tool.input_schema == {"type": "object"}
    assert {t.name for t in tools[:-1]} == {t.name for t in portal.list_tools(Surface.ALL)}


async def test_minimize_tools_calls_listed_tool_directly(portal: Portal) -> None:
    result = await portal.call_tool(
        Surface.MINIMIZE_TOOLS, "time_get_current_time", {"timezone": "UTC"}
    )
    assert not result.is_error
    assert payload(result)["timezone"] == "UTC"


async def test_search_and_execute_and_codemode_surfaces(portal: Portal) -> None:
    assert [t.name for t in portal.list_tools(Surface.SEARCH_AND_EXECUTE)] == ["query", "execute"]
    assert [t.name for t in portal.list_tools(Surface.CODEMODE)] == ["code"]
    result = await portal.call_tool(Surface.CODEMODE, "time_get_current_time", {})
    assert result.is_error and "unknown tool" in text(result)


async def test_code_surface_description_is_small_and_fixed(portal: Portal) -> None:
    description = CODE_TOOL.description or ""
    assert count_tokens(description + (QUERY_TOOL.description or "")) < 1000
    assert "codemode.search" in description and "codemode.describe" in description
    assert "Example" in description


# -- code runs ------------------------------------------------------------------------------


async def test_code_calls_two_servers_with_promise_all(portal: Portal) -> None:
    source = """
const [now, echoed] = await Promise.all([
  codemode.time_get_current_time({timezone: "Asia/Tokyo"}),
  codemode.demo_echo({city: "Tokyo"}),
])
console.log("got both")
return {tz: now.timezone, city: echoed.city}
"""
    result = await code(portal, source)
    assert not result.is_error, text(result)
    assert payload(result) == {
        "result": {"tz": "Asia/Tokyo", "city": "Tokyo"},
        "logs": [{"level": "log", "text": "got both"}],
    }
    assert result.structured_content == payload(result)


async def test_execute_on_search_and_execute(portal: Portal) -> None:
    result = await code(
        portal, "return (await codemode.demo_echo({n: 1})).n", Surface.SEARCH_AND_EXECUTE
    )
    assert payload(result)["result"] == 1


async def test_code_with_typescript_annotations(portal: Portal) -> None:
    source = "const r: {n: number} = await codemode.demo_echo({n: 2}) as any\nreturn r.n"
    assert payload(await code(portal, source))["result"] == 2


async def test_text_results_arrive_as_strings(portal: Portal, git_repo: Any) -> None:
    """mcp-server-git answers with plain text, not JSON: the value is the raw string."""
    source = f"return await codemode.git_history({{repo_path: {json.dumps(str(git_repo))}}})"
    result = await code(portal, source)
    assert not result.is_error, text(result)
    history = payload(result)["result"]
    assert isinstance(history, str) and "first commit" in history


async def test_disabled_tool_absent_inside_sandbox(portal: Portal) -> None:
    result = await code(portal, "await codemode.demo_crash({})")
    assert result.is_error
    error = payload(result)["error"]
    assert error["name"] == "TypeError" and "not a tool available" in error["message"]


async def test_search_and_describe_inside_sandbox(portal: Portal) -> None:
    source = """
const found = await codemode.search("current time in a timezone")
const one = await codemode.describe("time_convert_time")
return {found, one}
"""
    result = payload(await code(portal, source))["result"]
    assert "time_get_current_time(input: TimeGetCurrentTimeInput)" in result["found"]
    assert "declare const codemode" in result["one"]
    assert "time_convert_time" in result["one"]


async def test_describe_unknown_tool_suggests(portal: Portal) -> None:
    source = (
        "try { await codemode.describe('time_get_curent_time') } catch (e) { return e.message }"
    )
    message = payload(await code(portal, source))["result"]
    assert "no tool named" in message and "time_get_current_time" in message


async def test_schema_violation_is_a_typeerror_naming_the_field(portal: Portal) -> None:
    source = (
        "try { await codemode.time_get_current_time({timezone: 5}) }\n"
        "catch (e) { return [e.name, e.message] }"
    )
    name, message = payload(await code(portal, source))["result"]
    assert name == "TypeError"
    assert "input.timezone" in message and "is not of type 'string'" in message


async def test_direct_call_schema_violation(portal: Portal) -> None:
    result = await portal.call_tool(Surface.ALL, "time_get_current_time", {})
    assert result.is_error
    assert "'timezone' is a required property" in text(result)


async def test_upstream_tool_error_rejects_with_its_text(portal: Portal) -> None:
    source = "try { await codemode.demo_fail({reason: 'x'}) } catch (e) { return e.message }"
    assert payload(await code(portal, source))["result"] == "failed on purpose: x"


async def test_output_cap_notice_at_top(demo_url: str, git_repo: Any) -> None:
    import os

    from tests.engine.conftest import TOKEN_ENV, portal_config

    config = portal_config(demo_url, git_repo, sandbox={"output_cap_chars": 500})
    os.environ[TOKEN_ENV] = TOKEN
    async with Gateway(config) as gw:
        result = await code(gw.portal("main"), "return 'x'.repeat(5000)")
    body = text(result)
    assert body.startswith("[output cut: showing the first 500 of 5,0")
    assert "the output cap is 500 characters" in body
    assert result.structured_content is None


async def test_code_errors_are_typed(portal: Portal) -> None:
    result = await code(portal, "console.log('before')\nconst x = ;")
    assert result.is_error
    body = payload(result)
    assert body["error"]["kind"] == "syntax"
    assert body["error"]["line"] == 2


async def test_code_input_must_be_code(portal: Portal) -> None:
    result = await portal.call_tool(Surface.CODEMODE, "code", {"source": "1"})
    assert result.is_error and '{"code"' in text(result)


# -- query ----------------------------------------------------------------------------------


async def test_query_returns_declarations_and_schemas(portal: Portal) -> None:
    result = await portal.call_tool(Surface.SEARCH_AND_EXECUTE, "query", {"query": "time in tokyo"})
    assert not result.is_error
    body = text(result)
    assert "declare const codemode" in body and "time_get_current_time" in body
    matches = (result.structured_content or {})["matches"]
    assert matches[0]["name"] in {"time_get_current_time", "time_convert_time"}
    assert "inputSchema" in matches[0]


async def test_query_without_match_lists_servers(portal: Portal) -> None:
    result = await portal.call_tool(Surface.MINIMIZE_TOOLS, "query", {"query": "zzqqxx"})
    assert result.is_error
    assert "time" in text(result) and "git" in text(result) and "demo" in text(result)
    empty = await portal.call_tool(Surface.MINIMIZE_TOOLS, "query", {"query": "  "})
    assert "Empty query" in text(empty)


# -- status, credentials, logs, prompts -----------------------------------------------------


async def test_server_down_others_work_and_status_shows_error(portal: Portal) -> None:
    status = portal.status()
    assert status["down"].state is ServerState.ERROR
    details = status["down"].error_details
    assert details is not None and details.is_upstream is False and details.retryable
    assert status["time"].state is ServerState.READY
    assert not any(t.name.startswith("down_") for t in portal.list_tools(Surface.ALL))


async def test_bearer_credential_never_visible(portal: Portal, gateway: Gateway) -> None:
    result = await code(portal, "return [await codemode.demo_echo({}), Object.keys(codemode)]")
    seen = [
        text(result),
        json.dumps([t.model_dump(mode="json") for s in Surface for t in portal.list_tools(s)]),
        json.dumps([s.model_dump(mode="json") for s in portal.status().values()]),
        json.dumps([r.to_json() for r in gateway.request_log.query(limit=1000)]),
    ]
    assert all(TOKEN not in blob for blob in seen)


async def test_request_log_records_calls_and_runs(portal: Portal, gateway: Gateway) -> None:
    await code(
        portal,
        "await codemode.demo_echo({a: 1}); await codemode.time_get_current_time({timezone: 'UTC'})",
    )
    rows = gateway.request_log.query(portal="main", limit=5)
    kinds = [(r.kind, r.capability, r.status) for r in rows[:3]]
    assert kinds == [
        ("code_run", "code", "ok"),
        ("tool_call", "time_get_current_time", "ok"),
        ("tool_call", "demo_echo", "ok"),
    ]
    assert rows[1].server == "time" and rows[1].user == "tester"
    assert gateway.request_log.query(server="demo", limit=1)[0].capability == "demo_echo"


async def test_prompts_listed_and_served(portal: Portal) -> None:
    names = {p.name for p in portal.list_prompts()}
    assert {"demo_greet", "demo_review"} <= names
    result = await portal.get_prompt("demo_greet", {"name": "Ana"})
    assert result.messages
    upstream = await portal.services.catalog.get_prompt("demo", "greet", {"name": "Ana"})
    assert upstream.meta and result.meta is None  # the upstream's _meta is not passed on


async def test_list_changed_resyncs_and_notifies(portal: Portal) -> None:
    import anyio

    changed = anyio.Event()
    portal.on_tools_changed(changed.set)
    await portal.call_tool(Surface.ALL, "demo_mutate", {"name": "added_tool_x"})
    with anyio.fail_after(10):
        await changed.wait()
    assert "demo_added_tool_x" in {t.name for t in portal.list_tools(Surface.ALL)}
    result = await code(portal, "return await codemode.demo_added_tool_x({})")
    assert payload(result)["result"] == "added_tool_x ok"


async def test_direct_call_does_not_pass_upstream_meta(portal: Portal) -> None:
    upstream = await portal.services.catalog.call_tool("demo", "echo", {"a": 1})
    result = await portal.call_tool(Surface.ALL, "demo_echo", {"a": 1})
    assert upstream.meta  # the demo upstream does send _meta ...
    assert result.meta is None  # ... and the portal does not pass it on
    assert result.structured_content == {"a": 1}


async def test_code_calling_a_down_servers_tool_names_the_server(portal: Portal) -> None:
    source = "try { await codemode.down_anything({}) } catch (e) { return [e.name, e.message] }"
    name, message = payload(await code(portal, source))["result"]
    assert name == "TypeError"
    assert "upstream server 'down' (Error: cannot reach" in message
