"""The tools under bad input, through the real HTTP endpoint and SDK client: arguments that
violate schemas (direct calls, and `codemode.*` calls from code), missing or extra arguments
of `query`/`execute`/`code`, and code that is empty, enormous, binary, ill-formed Unicode or
not valid JavaScript/TypeScript. Each gets a readable tool error (typed, for code runs) and the
server keeps serving."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from mcp.client.client import Client
from mcp.shared.exceptions import MCPError

from engine.surfaces import CODE, EXECUTE, QUERY
from tests.hardening.conftest import (
    HTTP_TIMEOUT_S,
    MAX_BODY_BYTES,
    MAX_CODE_BYTES,
    assert_still_serving,
    connect,
    open_session,
    raw_client,
    sse_messages,
    text_of,
)
from tests.server.conftest import ServedPortal

pytestmark = pytest.mark.anyio

REPLACEMENT = "\ufffd"


@pytest.fixture
async def direct(served: ServedPortal) -> AsyncIterator[Client]:
    with anyio.fail_after(HTTP_TIMEOUT_S * 4):
        async with connect(served.url) as client:
            yield client


@pytest.fixture
async def search(served: ServedPortal) -> AsyncIterator[Client]:
    with anyio.fail_after(HTTP_TIMEOUT_S * 4):
        async with connect(served.url + "?optimize_context=search_and_execute") as client:
            yield client


@pytest.fixture
async def coder(served: ServedPortal) -> AsyncIterator[Client]:
    with anyio.fail_after(HTTP_TIMEOUT_S * 4):
        async with connect(served.url + "?codemode=search_and_execute") as client:
            yield client


async def run_code(client: Client, code: str) -> tuple[bool, dict[str, Any]]:
    """(is_error, the run's JSON payload) of one `code` call."""
    result = await client.call_tool(CODE, {"code": code})
    payload = json.loads(text_of(result))
    assert result.structured_content == payload  # the structured copy says the same
    return bool(result.is_error), payload


# -- direct calls -----------------------------------------------------------------------------

SCHEMA_VIOLATIONS: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "missing-required": ("time_get_current_time", {}, ["'timezone' is a required property"]),
    "wrong-type": ("time_get_current_time", {"timezone": 5}, ["input.timezone", "'string'"]),
    "null-for-string": ("time_get_current_time", {"timezone": None}, ["input.timezone"]),
    "two-problems": (
        "demo_mutate",
        {"kind": "bogus", "name": 3},
        ["input.kind", "is not one of", "input.name"],
    ),
    "number-as-string": ("demo_slow", {"seconds": "ten"}, ["input.seconds", "'number'"]),
    "boolean-as-string": (
        "demo_mutate",
        {"kind": "tool", "name": "x", "notify": "yes"},
        ["input.notify", "'boolean'"],
    ),
    "convert-missing-three": ("time_convert_time", {}, ["required property"]),
}


@pytest.mark.parametrize("case", SCHEMA_VIOLATIONS)
async def test_a_direct_call_that_violates_the_schema_is_a_tool_error(
    direct: Client, case: str
) -> None:
    tool, arguments, expected = SCHEMA_VIOLATIONS[case]
    result = await direct.call_tool(tool, arguments)
    assert result.is_error
    message = text_of(result)
    assert message.startswith(f"invalid arguments for {tool}: "), message
    for part in expected:
        assert part in message, message


async def test_extra_arguments_pass_where_the_schema_allows_them(direct: Client) -> None:
    result = await direct.call_tool("time_get_current_time", {"timezone": "UTC", "extra": 1})
    assert not result.is_error, text_of(result)


@pytest.mark.parametrize("name", ["nope", "", "demo_crash", "codemode.demo_echo", "Demo_Echo"])
async def test_an_unknown_or_disabled_tool_is_a_tool_error_listing_tools(
    direct: Client, name: str
) -> None:
    result = await direct.call_tool(name, {})
    assert result.is_error
    assert text_of(result).startswith(f"unknown tool {name!r} on this endpoint. Available: ")


# -- query / execute / code arguments ---------------------------------------------------------

QUERY_BAD: dict[str, dict[str, Any]] = {
    "missing": {},
    "number": {"query": 5},
    "null": {"query": None},
    "extra": {"query": "echo", "extra": 1},
    "limit-string": {"query": "echo", "limit": "ten"},
    "limit-zero": {"query": "echo", "limit": 0},
    "limit-negative": {"query": "echo", "limit": -1},
    "limit-huge": {"query": "echo", "limit": 10**12},
    "limit-float": {"query": "echo", "limit": 1.5},
    "limit-bool": {"query": "echo", "limit": True},
}
CODE_BAD: dict[str, dict[str, Any]] = {
    "missing": {},
    "number": {"code": 5},
    "null": {"code": None},
    "list": {"code": ["return 1"]},
    "extra": {"code": "return 1", "language": "js"},
    "wrong-name": {"source": "return 1"},
}


@pytest.mark.parametrize("case", QUERY_BAD)
async def test_bad_query_arguments_are_a_tool_error(search: Client, case: str) -> None:
    result = await search.call_tool(QUERY, QUERY_BAD[case])
    assert result.is_error
    assert text_of(result).startswith("invalid arguments for query: "), text_of(result)


@pytest.mark.parametrize("query", ["", "   ", "\x00\x01", "x" * 5000])
async def test_an_empty_or_hopeless_query_says_what_to_do(search: Client, query: str) -> None:
    result = await search.call_tool(QUERY, {"query": query})
    assert result.is_error
    message = text_of(result)
    assert message.startswith(("Empty query: ", "No tool matches ")), message[:200]
    assert "time, demo" in message, message[:200]


HELPER_MISUSE = {
    "search-number": "codemode.search(42)",
    "search-object-without-query": "codemode.search({limit: 3})",
    "describe-number": "codemode.describe(5)",
    "describe-object-number": "codemode.describe({name: 5})",
    "describe-unknown": "codemode.describe('no_such_tool')",
}


@pytest.mark.parametrize("case", HELPER_MISUSE)
async def test_misused_helpers_reject_with_a_type_error(coder: Client, case: str) -> None:
    code = f"try {{ await {HELPER_MISUSE[case]}; return 'resolved' }} catch (e) {{ return e.name }}"
    assert await run_code(coder, code) == (False, {"result": "TypeError", "logs": []})


@pytest.mark.parametrize("limit", ["-5", "0", "1e12", "'3'", "null"])
async def test_search_from_code_tolerates_any_limit(coder: Client, limit: str) -> None:
    code = (
        f"return (await codemode.search({{query: 'echo', limit: {limit}}})).includes('demo_echo')"
    )
    assert await run_code(coder, code) == (False, {"result": True, "logs": []})


@pytest.mark.parametrize(
    "params",
    [
        {"name": "nope"},
        {"name": "greet"},  # the upstream name, not the portal's demo_greet
        {"name": "demo_greet", "arguments": {"name": 5}},
        {"name": "demo_greet", "arguments": ["x"]},
        {"name": 5},
        {},
    ],
)
async def test_bad_prompt_requests_are_invalid_params(
    served: ServedPortal, params: dict[str, Any]
) -> None:
    body = {"jsonrpc": "2.0", "id": 9, "method": "prompts/get", "params": params}
    async with raw_client() as http:
        session = await open_session(http, served.url)
        answer = await http.post(served.url, json=body, headers=session)
    assert answer.status_code == 200, answer.text
    (message,) = sse_messages(answer)
    assert message["id"] == 9 and message["error"]["code"] == -32602, message


@pytest.mark.parametrize("tool", [EXECUTE, CODE])
@pytest.mark.parametrize("case", CODE_BAD)
async def test_bad_code_arguments_say_what_the_tool_takes(
    search: Client, coder: Client, tool: str, case: str
) -> None:
    client = search if tool == EXECUTE else coder
    result = await client.call_tool(tool, CODE_BAD[case])
    assert result.is_error
    assert text_of(result) == f'{tool} takes {{"code": "<JavaScript>"}}'


# -- schema violations from code --------------------------------------------------------------


@pytest.mark.parametrize("case", SCHEMA_VIOLATIONS)
async def test_a_call_from_code_that_violates_the_schema_rejects_catchably(
    coder: Client, case: str
) -> None:
    tool, arguments, expected = SCHEMA_VIOLATIONS[case]
    code = f"""
        try {{ await codemode.{tool}({json.dumps(arguments)}); return "resolved" }}
        catch (e) {{ return [e.name, e.message] }}
    """
    is_error, payload = await run_code(coder, code)
    assert not is_error, payload
    name, message = payload["result"]
    assert name == "TypeError"
    assert message.startswith(f"invalid arguments for codemode.{tool}: "), message
    for part in expected:
        assert part in message, message


@pytest.mark.parametrize(
    "arguments", ["'UTC'", "['UTC']", "42", "null", "undefined", "() => 1", "Symbol('s')"]
)
async def test_non_object_arguments_from_code_reject(coder: Client, arguments: str) -> None:
    is_error, payload = await run_code(
        coder, f"return await codemode.time_get_current_time({arguments})"
    )
    assert is_error, payload
    assert payload["error"]["kind"] in ("runtime", "unserializable"), payload
    assert payload["error"]["message"], payload


# -- the code itself --------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["", " ", "\n\t \r\n", "// only a comment", "/* block */", ";"])
async def test_empty_code_returns_null(coder: Client, code: str) -> None:
    assert await run_code(coder, code) == (False, {"result": None, "logs": []})


@pytest.mark.parametrize("extra", [1, 4096])
async def test_code_over_max_code_bytes_is_a_typed_limit_error(coder: Client, extra: int) -> None:
    code = "return 1 // " + "x" * (MAX_CODE_BYTES + extra)
    is_error, payload = await run_code(coder, code)
    assert is_error
    assert payload["error"]["kind"] == "limit", payload
    assert str(MAX_CODE_BYTES) in payload["error"]["message"].replace(",", ""), payload


async def test_multibyte_code_is_measured_in_utf8_bytes(coder: Client) -> None:
    # Under the limit in characters, over it in UTF-8 bytes (each 😀 is 4 bytes).
    code = "return 1 // " + "😀" * (MAX_CODE_BYTES // 3)
    is_error, payload = await run_code(coder, code)
    assert is_error and payload["error"]["kind"] == "limit", payload


async def test_code_over_the_body_cap_is_refused_and_the_server_stays_up(
    coder: Client, served: ServedPortal
) -> None:
    with pytest.raises(MCPError):
        await coder.call_tool(CODE, {"code": "x" * (MAX_BODY_BYTES + 1)})
    await assert_still_serving(served.url)


SYNTAX_ERRORS: dict[str, tuple[str, int]] = {
    "unfinished-expression": ("return 1 +", 1),
    "third-line": ("const a = 1;\nconst b = 2;\nreturn a +* b", 3),
    "unclosed-brace": ("if (true) {\n  return 1", 2),
    "nul-byte": ("return 1\x00", 1),
    "binary-bytes": ("\x00\x01\x02\xff\xfe", 1),
    "control-chars": ("\x1b[31mreturn 1", 1),
    "bom-then-garbage": ("\ufeff@@@", 1),
    "reserved-word": ("const class = 1", 1),
    "html": ("<html><body>hi</body></html>", 1),
    "python": ("def f():\n    return 1", 1),
    "ts-missing-initializer": ("let x: number = ;", 1),
    "ts-bad-generic": ("function f<T(x: T) { return x }", 1),
    "ts-interface-typo": ("interface A { x: number\nreturn 1", 2),
    "ts-enum-garbage": ("enum E { A = , }", 1),
}


@pytest.mark.parametrize("case", SYNTAX_ERRORS)
async def test_a_syntax_error_is_typed_with_line_and_column(coder: Client, case: str) -> None:
    code, line = SYNTAX_ERRORS[case]
    is_error, payload = await run_code(coder, code)
    assert is_error, payload
    error = payload["error"]
    assert error["kind"] == "syntax", error
    assert error["name"] == "SyntaxError", error
    assert error["line"] == line, error
    assert isinstance(error["column"], int) and error["column"] >= 1, error
    assert f"line {line}" in error["message"], error


async def test_valid_typescript_runs(coder: Client) -> None:
    code = "interface P { n: number }\nconst p: P = { n: 6 };\nreturn (p.n as number) * 7"
    assert await run_code(coder, code) == (False, {"result": 42, "logs": []})


# -- ill-formed Unicode built inside the sandbox ----------------------------------------------

LONE_SURROGATES: dict[str, tuple[str, Any]] = {
    "returned": ("return 'a\\ud800b'", f"a{REPLACEMENT}b"),
    "low-half": ("return '\\udc00'", REPLACEMENT),
    "reversed-pair": ("return '\\ude00\\ud83d'", REPLACEMENT * 2),
    "in-a-key": ("return {['k\\ud800']: 1}", {f"k{REPLACEMENT}": 1}),
    "nested": ("return [{a: ['\\udbff']}]", [{"a": [REPLACEMENT]}]),
    "valid-pair-kept": ("return '\\ud83d\\ude00'", "😀"),
    "sliced-emoji": ("return '😀'.slice(0, 1)", REPLACEMENT),
    "to-a-tool": (
        "return (await codemode.demo_echo({value: 'q\\ud800'})).value",
        f"q{REPLACEMENT}",
    ),
}


@pytest.mark.parametrize("case", LONE_SURROGATES)
async def test_lone_surrogates_leave_as_replacement_characters(coder: Client, case: str) -> None:
    code, expected = LONE_SURROGATES[case]
    assert await run_code(coder, code) == (False, {"result": expected, "logs": []})


async def test_a_lone_surrogate_in_a_log_line_or_error_is_replaced(coder: Client) -> None:
    is_error, payload = await run_code(
        coder, "console.log('l\\ud800'); throw new Error('e\\udfff')"
    )
    assert is_error
    assert payload["logs"] == [{"level": "log", "text": f"l{REPLACEMENT}"}]
    assert payload["error"]["message"] == f"e{REPLACEMENT}"


async def test_lone_surrogates_reach_the_request_log(coder: Client, served: ServedPortal) -> None:
    marker = "surrogate-log-marker"
    await run_code(coder, f"throw new Error('{marker}\\ud800')")
    gateway = served.gateway
    assert gateway is not None
    gateway.request_log.flush()
    rows = await anyio.to_thread.run_sync(
        lambda: gateway.request_log.query(portal="main", limit=50)
    )
    errors = [r.error for r in rows if r.kind == "code_run" and r.error and marker in r.error]
    assert errors == [f"runtime: {marker}{REPLACEMENT}"]


async def test_the_demo_upstream_survives_lone_surrogates(
    coder: Client, served: ServedPortal
) -> None:
    # Before the fix these arguments broke the upstream's connection for every client.
    for _ in range(3):
        await run_code(coder, "return await codemode.demo_echo({value: '\\ud800'})")
    assert await run_code(coder, "return (await codemode.demo_echo({value: 1})).value") == (
        False,
        {"result": 1, "logs": []},
    )
    assert served.gateway is not None
    assert served.gateway.catalog.status()["demo"].state == "Ready"


async def test_the_server_still_serves_after_all_that(served: ServedPortal) -> None:
    await assert_still_serving(served.url)
