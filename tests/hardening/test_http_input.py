"""`/mcp` under malformed requests, sent as raw bytes with httpx2: each gets a clear 4xx or a
JSON-RPC error naming the problem, and the server keeps serving normal clients afterwards."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import pytest

from tests.hardening.conftest import (
    JSON_RPC_HEADERS,
    MAX_BODY_BYTES,
    assert_still_serving,
    initialize_body,
    open_session,
    raw_client,
    sse_messages,
)
from tests.server.conftest import ServedPortal

pytestmark = pytest.mark.anyio

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
METHOD_NOT_FOUND = -32601
# The connection closed on us (not a timeout: a hang must still fail the test).
DROPPED = (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError)
PING = b'{"jsonrpc":"2.0","id":7,"method":"ping"}'

# Bodies that are not JSON at all: 400 with a JSON-RPC parse error (-32700).
NOT_JSON: dict[str, bytes] = {
    "empty": b"",
    "garbage": b"{not json",
    "truncated": b'{"jsonrpc":"2.0","id":1,"method":"pi',
    "trailing-garbage": PING + b" }}",
    "single-quotes": b"{'jsonrpc':'2.0','id':1,'method':'ping'}",
    "invalid-utf8-in-string": b'{"jsonrpc":"2.0","id":1,"method":"ping\xff\xfe"}',
    "invalid-utf8-only": b"\xff\xfe\xfd",
    "overlong-utf8": b'{"jsonrpc":"2.0","id":1,"method":"\xc0\xafping"}',
    "utf16-body": '{"jsonrpc":"2.0","id":1,"method":"ping"}'.encode("utf-16"),
    "raw-nul-in-string": b'{"jsonrpc":"2.0","id":1,"method":"ping\x00"}',
    "lone-surrogate-escape": (
        b'{"jsonrpc":"2.0","id":1,"method":"tools/call",'
        b'"params":{"name":"demo_echo","arguments":{"value":"\\ud800"}}}'
    ),
}

# Valid JSON that is not a JSON-RPC message, or one with fields of the wrong type: 400 with a
# JSON-RPC error (the SDK answers -32602 with the validation details).
NOT_JSON_RPC: dict[str, Any] = {
    "empty-array": [],
    "batch": [{"jsonrpc": "2.0", "id": 1, "method": "ping"}],
    "number": 42,
    "string": "ping",
    "null": None,
    "true": True,
    "empty-object": {},
    "no-jsonrpc-field": {"id": 1, "method": "ping"},
    "jsonrpc-1.0": {"jsonrpc": "1.0", "id": 1, "method": "ping"},
    "jsonrpc-number": {"jsonrpc": 2.0, "id": 1, "method": "ping"},
    "method-number": {"jsonrpc": "2.0", "id": 1, "method": 7},
    "method-null": {"jsonrpc": "2.0", "id": 1, "method": None},
    "method-object": {"jsonrpc": "2.0", "id": 1, "method": {"name": "ping"}},
    "params-string": {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": "x"},
    "params-array": {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": [1]},
    "params-number": {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": 3},
}

# Requests the transport accepts whose parameters are wrong for their method: a JSON-RPC
# error answer with the request's id.
BAD_PARAMS: dict[str, dict[str, Any]] = {
    "call-without-name": {"method": "tools/call", "params": {}},
    "call-name-number": {"method": "tools/call", "params": {"name": 3}},
    "call-arguments-array": {
        "method": "tools/call",
        "params": {"name": "demo_echo", "arguments": [1]},
    },
    "call-arguments-string": {
        "method": "tools/call",
        "params": {"name": "demo_echo", "arguments": "value=1"},
    },
    "get-prompt-without-name": {"method": "prompts/get", "params": {}},
    "list-cursor-number": {"method": "tools/list", "params": {"cursor": 5}},
}

UNKNOWN_METHODS = ["nope", "tools/nope", "", "rpc.discover", "tools/list/", "💥", "x" * 2000]


def assert_jsonrpc_error(response: httpx2.Response, codes: set[int]) -> dict[str, Any]:
    messages = [m for m in sse_messages(response) if "error" in m]
    assert len(messages) == 1, response.text
    error: dict[str, Any] = messages[0]["error"]
    assert error["code"] in codes, error
    assert isinstance(error["message"], str) and error["message"], error
    return messages[0]


@pytest.fixture
async def session(served: ServedPortal) -> dict[str, str]:
    async with raw_client() as http:
        return await open_session(http, served.url)


@pytest.mark.parametrize("name", NOT_JSON)
async def test_a_body_that_is_not_json_is_a_parse_error(
    served: ServedPortal, session: dict[str, str], name: str
) -> None:
    async with raw_client() as http:
        answer = await http.post(served.url, content=NOT_JSON[name], headers=session)
    assert answer.status_code == 400, answer.text
    assert_jsonrpc_error(answer, {PARSE_ERROR})
    assert answer.json()["error"]["message"].startswith("Parse error")


@pytest.mark.parametrize("name", NOT_JSON)
async def test_a_parse_error_needs_no_session(served: ServedPortal, name: str) -> None:
    async with raw_client() as http:
        answer = await http.post(served.url, content=NOT_JSON[name])
    assert answer.status_code == 400, answer.text
    assert_jsonrpc_error(answer, {PARSE_ERROR})


@pytest.mark.parametrize("name", NOT_JSON_RPC)
async def test_json_that_is_not_a_jsonrpc_message_is_refused(
    served: ServedPortal, session: dict[str, str], name: str
) -> None:
    body = json.dumps(NOT_JSON_RPC[name]).encode()
    async with raw_client() as http:
        answer = await http.post(served.url, content=body, headers=session)
    assert answer.status_code == 400, answer.text
    assert_jsonrpc_error(answer, {INVALID_REQUEST, INVALID_PARAMS})


@pytest.mark.parametrize("name", BAD_PARAMS)
async def test_wrong_params_for_a_method_are_invalid_params(
    served: ServedPortal, session: dict[str, str], name: str
) -> None:
    body = {"jsonrpc": "2.0", "id": 41, **BAD_PARAMS[name]}
    async with raw_client() as http:
        answer = await http.post(served.url, json=body, headers=session)
    assert answer.status_code == 200, answer.text
    message = assert_jsonrpc_error(answer, {INVALID_PARAMS})
    assert message["id"] == 41


@pytest.mark.parametrize("method", UNKNOWN_METHODS, ids=lambda m: m[:20] or "empty")
async def test_an_unknown_method_is_method_not_found(
    served: ServedPortal, session: dict[str, str], method: str
) -> None:
    body = {"jsonrpc": "2.0", "id": "req-1", "method": method, "params": {}}
    async with raw_client() as http:
        answer = await http.post(served.url, json=body, headers=session)
    assert answer.status_code == 200, answer.text
    message = assert_jsonrpc_error(answer, {METHOD_NOT_FOUND})
    assert message["id"] == "req-1"


@pytest.mark.parametrize(
    "request_id",
    ['{"a":1}', "[1]", "1.5", "3.0", "1e3", "null", "true", "false", "NaN", "-Infinity"],
)
async def test_a_request_id_of_the_wrong_type_is_refused(
    served: ServedPortal, session: dict[str, str], request_id: str
) -> None:
    # The SDK alone would take these for notifications: 202 and never an answer.
    body = '{"jsonrpc":"2.0","id":' + request_id + ',"method":"ping"}'
    async with raw_client() as http:
        answer = await http.post(served.url, content=body.encode(), headers=session)
    assert answer.status_code == 400, answer.text
    message = assert_jsonrpc_error(answer, {INVALID_REQUEST})
    assert "must be a string or an integer" in message["error"]["message"]


@pytest.mark.parametrize("request_id", [0, -1, 2**53, "", "ü-id", "x" * 1000])
async def test_any_string_or_integer_id_is_echoed(
    served: ServedPortal, session: dict[str, str], request_id: int | str
) -> None:
    body = {"jsonrpc": "2.0", "id": request_id, "method": "ping"}
    async with raw_client() as http:
        answer = await http.post(served.url, json=body, headers=session)
    assert answer.status_code == 200, answer.text
    assert sse_messages(answer) == [{"jsonrpc": "2.0", "id": request_id, "result": {}}]


async def test_a_request_before_initialize_needs_a_session(served: ServedPortal) -> None:
    async with raw_client() as http:
        answer = await http.post(served.url, content=PING)
    assert answer.status_code == 400, answer.text
    assert "session" in answer.text.lower()


async def test_an_unknown_session_is_404(served: ServedPortal) -> None:
    headers = {"mcp-session-id": "no-such-session", "mcp-protocol-version": "2025-11-25"}
    async with raw_client() as http:
        answer = await http.post(served.url, content=PING, headers=headers)
    assert answer.status_code == 404, answer.text


# -- size -------------------------------------------------------------------------------------


@pytest.mark.parametrize("extra", [1, MAX_BODY_BYTES, 8 * MAX_BODY_BYTES])
async def test_a_body_over_the_cap_is_413(
    served: ServedPortal, session: dict[str, str], extra: int
) -> None:
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "demo_echo", "arguments": {"value": "x" * (MAX_BODY_BYTES + extra)}},
    }
    async with raw_client() as http:
        answer = await http.post(served.url, json=body, headers=session)
    assert answer.status_code == 413, answer.text


async def test_a_body_just_under_the_cap_is_served(
    served: ServedPortal, session: dict[str, str]
) -> None:
    arguments = {"value": ""}
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "demo_echo", "arguments": arguments},
    }
    arguments["value"] = "y" * (MAX_BODY_BYTES - len(json.dumps(body, separators=(",", ":"))) - 16)
    async with raw_client() as http:
        answer = await http.post(served.url, json=body, headers=session)
    assert answer.status_code == 200, answer.text
    (message,) = sse_messages(answer)
    assert not message["result"].get("isError"), message


async def test_deeply_nested_json_is_refused_not_crashing(
    served: ServedPortal, session: dict[str, str]
) -> None:
    depth = MAX_BODY_BYTES // 2 - 8
    async with raw_client() as http:
        answer = await http.post(served.url, content=b"[" * depth + b"]" * depth, headers=session)
    assert 400 <= answer.status_code < 500, answer.text


# -- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "", "multipart/form-data", "json"],
)
async def test_a_body_that_is_not_declared_json_is_refused(
    served: ServedPortal, session: dict[str, str], content_type: str
) -> None:
    async with raw_client() as http:
        answer = await http.post(
            served.url, content=PING, headers={**session, "content-type": content_type}
        )
    assert answer.status_code in (400, 415), answer.text
    assert "content-type" in answer.text.lower()


@pytest.mark.parametrize(
    "accept", ["text/html", "application/json", "text/event-stream", "", "image/*"]
)
async def test_a_client_that_does_not_accept_both_is_406(
    served: ServedPortal, session: dict[str, str], accept: str
) -> None:
    async with raw_client() as http:
        answer = await http.post(served.url, content=PING, headers={**session, "accept": accept})
    assert answer.status_code == 406, answer.text
    assert_jsonrpc_error(answer, {INVALID_REQUEST})


@pytest.mark.parametrize("size", [8 * 1024, 64 * 1024, 1024 * 1024])
async def test_huge_headers_are_answered_and_do_not_take_the_server_down(
    served: ServedPortal, session: dict[str, str], size: int
) -> None:
    async with raw_client() as http:
        try:
            answer = await http.post(
                served.url, content=PING, headers={**session, "x-padding": "p" * size}
            )
        except DROPPED:
            answer = None  # uvicorn's HTTP parser may refuse by closing: refused, not served
    assert answer is None or answer.status_code < 500, answer.text
    await assert_still_serving(served.url)


async def test_many_headers_are_answered(served: ServedPortal, session: dict[str, str]) -> None:
    headers = {**session, **{f"x-h{i}": str(i) for i in range(500)}}
    async with raw_client() as http:
        try:
            answer = await http.post(served.url, content=PING, headers=headers)
        except DROPPED:
            answer = None
    assert answer is None or answer.status_code < 500, answer.text


@pytest.mark.parametrize("authorization", ["Bearer", "Basic Zm9vOmJhcg==", "Bearer " + "k" * 9000])
async def test_an_authorization_header_on_an_open_portal_is_ignored(
    served: ServedPortal, session: dict[str, str], authorization: str
) -> None:
    async with raw_client() as http:
        answer = await http.post(
            served.url, content=PING, headers={**session, "authorization": authorization}
        )
    assert answer.status_code == 200, answer.text


# -- query strings ----------------------------------------------------------------------------

REFUSED_QUERIES = {
    "empty-optimize": "optimize_context=",
    "empty-codemode": "codemode=",
    "bare-codemode": "codemode",
    "both": "optimize_context=minimize_tools&codemode=search_and_execute",
    "repeated-different": "optimize_context=minimize_tools&optimize_context=search_and_execute",
    "repeated-same": "optimize_context=minimize_tools&optimize_context=minimize_tools",
    "repeated-codemode": "codemode=search_and_execute&codemode=search_and_execute",
    "unicode": "optimize_context=%C3%BCber",
    "emoji": "codemode=%F0%9F%92%A5",
    "nul": "optimize_context=%00",
    "invalid-utf8-escape": "optimize_context=%FF%FE",
    "very-long": "optimize_context=" + "x" * 20_000,
    "case": "optimize_context=MINIMIZE_TOOLS",
    "spaces": "optimize_context=+minimize_tools+",
}
# Parameters the portal does not know are ignored: the default surface answers.
IGNORED_QUERIES = {
    "unknown-name": "foo=bar",
    "invalid-utf8-name": "%FF=%FE",
    "only-separators": "&&&=&",
    "lone-equals": "=",
    "percent-garbage": "%zz=%",
    "semicolons": "a=1;b=2",
    "near-miss-name": "optimize-context=minimize_tools",
}


@pytest.mark.parametrize("name", REFUSED_QUERIES)
async def test_a_bad_surface_parameter_is_400_listing_valid_values(
    served: ServedPortal, name: str
) -> None:
    async with raw_client() as http:
        answer = await http.post(f"{served.url}?{REFUSED_QUERIES[name]}", json=initialize_body())
    assert answer.status_code == 400, answer.text
    message = answer.json()["error"]
    assert "optimize_context" in message or "codemode" in message
    assert "mcp-session-id" not in answer.headers


@pytest.mark.parametrize("name", IGNORED_QUERIES)
async def test_unknown_query_parameters_are_ignored(served: ServedPortal, name: str) -> None:
    url = f"{served.url}?{IGNORED_QUERIES[name]}"
    async with raw_client() as http:
        headers = await open_session(http, url)
        listed = await http.post(
            url, json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=headers
        )
        await http.delete(url, headers=headers)
    (message,) = sse_messages(listed)
    assert "demo_echo" in {t["name"] for t in message["result"]["tools"]}


async def test_a_repeated_parameter_cannot_move_a_session_to_another_surface(
    served: ServedPortal,
) -> None:
    url = f"{served.url}?optimize_context=minimize_tools"
    async with raw_client() as http:
        headers = await open_session(http, url)
        answer = await http.post(
            url + "&optimize_context=search_and_execute", content=PING, headers=headers
        )
        await http.delete(url, headers=headers)
    assert answer.status_code == 400, answer.text
    assert "given 2 times" in answer.json()["error"]


# -- afterwards -------------------------------------------------------------------------------


async def test_other_methods_and_paths_are_answered(served: ServedPortal) -> None:
    async with raw_client() as http:
        put = await http.put(served.url, content=PING)
        patch = await http.patch(served.url, content=PING)
        nowhere = await http.post(f"{served.base}/p/ghost/mcp", content=PING)
        nested = await http.post(f"{served.base}/mcp/extra", content=PING)
    assert put.status_code in (400, 405), put.text
    assert patch.status_code in (400, 405), patch.text
    assert nowhere.status_code == 404, nowhere.text
    assert nested.status_code == 404, nested.text


async def test_the_server_still_serves_after_all_that(served: ServedPortal) -> None:
    await assert_still_serving(served.url)
    async with httpx2.AsyncClient(headers=JSON_RPC_HEADERS, timeout=10) as http:
        home = await http.get(served.base + "/")
    assert home.status_code == 200
