"""The portal's `/mcp` endpoint over real HTTP on 127.0.0.1, with the `mcp` SDK's client in
both protocol eras (2025-11-25 initialize + sessions, "legacy"; 2026-07-28 server/discover,
"auto")."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.session import IncomingMessage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError

from engine.config import CodeMode
from engine.server.app import AUTHORIZATION_SERVERS_ENV
from engine.surfaces import CODE, EXECUTE, QUERY, Surface
from tests.server.conftest import (
    API_KEY,
    LOCKED_HOST,
    MAX_BODY_BYTES,
    PUBLIC_HOST,
    ServedPortal,
    eventually,
    serving,
)
from tests.upstreams.harness import RunningServer

pytestmark = [
    pytest.mark.anyio,
    # 2025-era clients still use logging/setLevel; the SDK warns that 2026-07-28 dropped it.
    pytest.mark.filterwarnings("ignore:The logging capability is deprecated"),
]

ERAS = ["legacy", "auto"]
LEGACY_VERSION = "2025-11-25"
JSON_RPC_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
}


@asynccontextmanager
async def connect(url: str, mode: str = "auto", **options: Any) -> AsyncIterator[Client]:
    """An SDK client session; `headers=` go on every HTTP request."""
    headers: dict[str, str] | None = options.pop("headers", None)
    transport = streamable_http_client(url, http_client=create_mcp_http_client(headers=headers))
    async with Client(transport, mode=mode, **options) as client:
        yield client


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


def initialize_body() -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "raw-test", "version": "1"},
        },
    }


# -- surfaces ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_each_surface_lists_its_tools(served: ServedPortal, mode: str) -> None:
    async with connect(served.url, mode) as client:
        everything = {t.name: t for t in (await client.list_tools()).tools}
        assert client.server_capabilities.tools is not None
        assert client.server_capabilities.tools.list_changed
    assert {"time_get_current_time", "demo_echo", "demo_slow"} <= set(everything)
    assert "demo_crash" not in everything  # disabled by curation
    assert everything["demo_echo"].description == "Echo the arguments back as JSON."

    async with connect(served.url + "?optimize_context=minimize_tools", mode) as client:
        minimal = {t.name: t for t in (await client.list_tools()).tools}
    assert set(minimal) == set(everything) | {QUERY}
    assert minimal["demo_echo"].description == ""

    async with connect(served.url + "?optimize_context=search_and_execute", mode) as client:
        assert {t.name for t in (await client.list_tools()).tools} == {QUERY, EXECUTE}

    async with connect(served.url + "?codemode=search_and_execute", mode) as client:
        assert [t.name for t in (await client.list_tools()).tools] == [CODE]
        assert client.protocol_version == (LEGACY_VERSION if mode == "legacy" else "2026-07-28")


async def test_a_portal_is_chosen_by_path_or_by_host(served: ServedPortal) -> None:
    async with connect(f"{served.base}/p/nocode/mcp") as client:
        assert {t.name for t in (await client.list_tools()).tools} == {
            "time_get_current_time",
            "time_convert_time",
        }
    # The locked portal by its hostname, with its key: the Host header picks it.
    headers = {"Host": LOCKED_HOST, "Authorization": f"Bearer {API_KEY}"}
    async with connect(served.url, headers=headers) as client:
        names = {t.name for t in (await client.list_tools()).tools}
    assert "echo" not in names and "demo_echo" in names and "time_get_current_time" not in names
    async with httpx2.AsyncClient() as http:
        missing = await http.post(f"{served.base}/p/nope/mcp", json=initialize_body())
    assert missing.status_code == 404
    assert "main, locked, nocode" in missing.json()["error"]


async def test_prompts_list_and_get(served: ServedPortal) -> None:
    async with connect(served.url, "legacy") as client:
        prompts = {p.name for p in (await client.list_prompts()).prompts}
        assert {"demo_greet", "demo_review"} <= prompts
        got = await client.get_prompt("demo_greet", {"name": "Ana"})
        assert "hello Ana" in json.dumps(got.model_dump(mode="json"))
        with pytest.raises(MCPError) as caught:
            await client.get_prompt("no_such_prompt", {})
    assert caught.value.code == types.INVALID_PARAMS
    assert "demo_greet" in caught.value.error.message  # lists what exists


# -- tool calls -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_code_run_calls_two_upstreams(served: ServedPortal, mode: str) -> None:
    code = """
        const [now, echoed] = await Promise.all([
          codemode.time_get_current_time({ timezone: "Asia/Tokyo" }),
          codemode.demo_echo({ value: { n: 42 } }),
        ]);
        return { tz: now.timezone, n: echoed.value.n };
    """
    async with connect(served.url + "?codemode=search_and_execute", mode) as client:
        result = await client.call_tool(CODE, {"code": code})
    assert not result.is_error, text_of(result)
    assert json.loads(text_of(result))["result"] == {"tz": "Asia/Tokyo", "n": 42}
    assert served.gateway is not None
    served.gateway.request_log.flush()
    runs = served.gateway.request_log.query(portal="main", limit=5)
    assert any(r.kind == "code_run" and r.capability == CODE for r in runs)


async def test_direct_call_and_execute(served: ServedPortal) -> None:
    async with connect(served.url, "legacy") as client:
        echoed = await client.call_tool("demo_echo", {"value": "hi"})
        assert json.loads(text_of(echoed)) == {"value": "hi"}
        failed = await client.call_tool("demo_fail", {"reason": "because"})
        assert failed.is_error and "because" in text_of(failed)
    async with connect(served.url + "?optimize_context=search_and_execute") as client:
        found = await client.call_tool(QUERY, {"query": "echo arguments"})
        assert "demo_echo" in text_of(found)
        ran = await client.call_tool(EXECUTE, {"code": "return 6 * 7"})
        assert json.loads(text_of(ran))["result"] == 42


# -- sessions ---------------------------------------------------------------------------------


async def test_delete_ends_a_session(served: ServedPortal) -> None:
    async with httpx2.AsyncClient(headers=JSON_RPC_HEADERS) as http:
        opened = await http.post(served.url, json=initialize_body())
        assert opened.status_code == 200
        session = opened.headers["mcp-session-id"]
        headers = {"mcp-session-id": session, "mcp-protocol-version": LEGACY_VERSION}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await http.post(served.url, json=initialized, headers=headers)).status_code == 202
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        assert (await http.post(served.url, json=ping, headers=headers)).status_code == 200
        tracked = served.mcp_server("main", Surface.ALL).sessions
        assert session in tracked  # it will get list_changed

        assert (await http.delete(served.url, headers=headers)).status_code == 200
        after = await http.post(served.url, json=ping, headers=headers)
    assert after.status_code == 404
    assert session not in tracked


async def test_a_session_belongs_to_the_url_it_was_opened_with(served: ServedPortal) -> None:
    async with httpx2.AsyncClient(headers=JSON_RPC_HEADERS) as http:
        opened = await http.post(served.url, json=initialize_body())
        headers = {"mcp-session-id": opened.headers["mcp-session-id"]}
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        other = await http.post(
            served.url + "?codemode=search_and_execute", json=ping, headers=headers
        )
        assert other.status_code == 404
        await http.delete(served.url, headers=headers)


@pytest.mark.parametrize("portal", ["nocode", "main", "defaulton", "enforced"])
async def test_a_repeated_surface_parameter_is_400_in_a_session_under_every_policy(
    served: ServedPortal, portal: str
) -> None:
    # Checked before a session is routed to the surface it was opened on.
    url = f"{served.base}/p/{portal}/mcp"
    async with httpx2.AsyncClient(headers=JSON_RPC_HEADERS) as http:
        opened = await http.post(url, json=initialize_body())
        session = opened.headers["mcp-session-id"]
        headers = {"mcp-session-id": session, "mcp-protocol-version": LEGACY_VERSION}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await http.post(url, json=initialized, headers=headers)).status_code == 202
        await eventually(
            lambda: any(session in served.mcp_server(portal, s).sessions for s in Surface),
            "the session tracked",
        )
        ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
        twice = await http.post(url + "?codemode=off&codemode=off", json=ping, headers=headers)
        await http.delete(url, headers=headers)
    assert twice.status_code == 400, twice.text
    assert "given 2 times" in twice.json()["error"]


# -- URL options and refusals -----------------------------------------------------------------


async def test_unknown_parameter_value_is_400_listing_valid_ones(served: ServedPortal) -> None:
    async with httpx2.AsyncClient(headers=JSON_RPC_HEADERS) as http:
        bad = await http.post(served.url + "?optimize_context=fewer", json=initialize_body())
        also_bad = await http.post(served.url + "?codemode=yes", json=initialize_body())
    assert bad.status_code == 400
    assert "minimize_tools" in bad.json()["error"] and "search_and_execute" in bad.json()["error"]
    assert also_bad.status_code == 400 and "search_and_execute" in also_bad.json()["error"]


TIME_TOOL = "time_get_current_time"
POLICY_QUERIES = ("", "?optimize_context=minimize_tools", "?optimize_context=search_and_execute")
POLICY_QUERIES += ("?codemode=search_and_execute", "?codemode=off")


@pytest.mark.parametrize(
    ("portal", "expected"),
    [
        # code_mode = "off" (allow_code_mode = false): no URL offers code; no error either.
        ("nocode", ["all", "minimize", "all", "all", "all"]),
        ("main", ["all", "minimize", "search", "code", "all"]),  # opt_in, the default
        ("defaulton", ["code", "minimize", "search", "code", "all"]),
        ("enforced", ["code", "code", "code", "code", "code"]),
    ],
)
async def test_code_mode_policy_decides_the_tools_listed(
    served: ServedPortal, portal: str, expected: list[str]
) -> None:
    # The engine's own tools on each shape; "all" and "minimize" list the curated ones too.
    engine_tools = {"all": set(), "minimize": {QUERY}, "search": {QUERY, EXECUTE}, "code": {CODE}}
    for query, shape in zip(POLICY_QUERIES, expected, strict=True):
        async with connect(f"{served.base}/p/{portal}/mcp{query}") as client:
            names = {t.name for t in (await client.list_tools()).tools}
        assert names & {QUERY, EXECUTE, CODE} == engine_tools[shape], (portal, query)
        assert (TIME_TOOL in names) == (shape in ("all", "minimize")), (portal, query)


async def test_code_calls_are_refused_once_a_reload_turns_code_mode_off(
    served: ServedPortal,
) -> None:
    assert served.gateway is not None
    config = served.gateway.config
    url = f"{served.base}/p/main/mcp?codemode=search_and_execute"
    try:
        # A 2025-era session (a 2026-era client has none: its next request follows the URL).
        async with connect(url, mode="legacy") as client:
            assert [t.name for t in (await client.list_tools()).tools] == [CODE]
            off = config.model_copy(
                update={
                    "portals": [
                        p.model_copy(update={"code_mode": CodeMode.OFF, "allow_code_mode": False})
                        if p.id == "main"
                        else p
                        for p in config.portals
                    ]
                }
            )
            report = served.gateway.reload(off)
            assert "portals[main].code_mode" in report.applied
            refused = await client.call_tool(CODE, {"code": "return 1"})
            assert refused.is_error and "code mode is off" in text_of(refused)
        # A new session on the same URL gets the plain tools.
        async with connect(url) as client:
            assert CODE not in {t.name for t in (await client.list_tools()).tools}
    finally:
        served.gateway.reload(config)


async def test_api_key_portal_answers_401_with_resource_metadata(served: ServedPortal) -> None:
    url = f"{served.base}/p/locked/mcp"
    metadata_url = f"{served.base}/.well-known/oauth-protected-resource/p/locked/mcp"
    async with httpx2.AsyncClient(headers=JSON_RPC_HEADERS) as http:
        anonymous = await http.post(url, json=initialize_body())
        wrong = await http.post(
            url, json=initialize_body(), headers={"Authorization": "Bearer not-the-key"}
        )
        document = await http.get(metadata_url)
    assert anonymous.status_code == 401
    challenge = anonymous.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and f'resource_metadata="{metadata_url}"' in challenge
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"]
    assert API_KEY not in wrong.text
    assert document.status_code == 200
    assert document.json()["resource"] == url
    assert document.json()["bearer_methods_supported"] == ["header"]
    assert document.json()["authorization_servers"] == []

    async with connect(url, headers={"Authorization": f"Bearer {API_KEY}"}) as client:
        echoed = await client.call_tool("demo_echo", {"value": 1})
    assert not echoed.is_error
    assert served.gateway is not None
    served.gateway.request_log.flush()
    [record] = served.gateway.request_log.query(portal="locked", limit=1)
    assert record.user is not None and record.user.startswith("key:")
    assert API_KEY not in record.user


async def test_metadata_names_configured_authorization_servers(
    served: ServedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    issuers = "https://auth.example.test, https://backup.example.test"
    monkeypatch.setenv(AUTHORIZATION_SERVERS_ENV, issuers)
    async with httpx2.AsyncClient() as http:
        by_host = await http.get(
            f"{served.base}/.well-known/oauth-protected-resource/mcp",
            headers={"Host": LOCKED_HOST},
        )
        nowhere = await http.get(f"{served.base}/.well-known/oauth-protected-resource/other")
    assert by_host.json()["authorization_servers"] == [
        "https://auth.example.test",
        "https://backup.example.test",
    ]
    assert by_host.json()["resource"] == f"http://{LOCKED_HOST}/mcp"
    assert by_host.json()["resource_name"] == "Locked portal"
    assert nowhere.status_code == 404


async def test_oversized_body_is_413(served: ServedPortal) -> None:
    body = initialize_body()
    body["params"]["clientInfo"]["name"] = "x" * (MAX_BODY_BYTES + 1)
    async with httpx2.AsyncClient(headers=JSON_RPC_HEADERS) as http:
        answer = await http.post(served.url, json=body)
    assert answer.status_code == 413


async def test_dns_rebinding_host_and_origin_are_refused(served: ServedPortal) -> None:
    async with httpx2.AsyncClient(headers=JSON_RPC_HEADERS) as http:
        evil_host = await http.post(
            served.url, json=initialize_body(), headers={"Host": "evil.example.com"}
        )
        evil_origin = await http.post(
            served.url, json=initialize_body(), headers={"Origin": "http://evil.example.com"}
        )
        local_origin = await http.post(
            served.url, json=initialize_body(), headers={"Origin": "http://localhost:5173"}
        )
        public = await http.post(
            served.url, json=initialize_body(), headers={"Host": f"{PUBLIC_HOST}:443"}
        )
    assert 400 <= evil_host.status_code < 500
    assert 400 <= evil_origin.status_code < 500
    assert local_origin.status_code == 200
    assert public.status_code == 200


# -- notifications ----------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.notifications: list[types.ServerNotification] = []
        self.logs: list[types.LoggingMessageNotificationParams] = []
        self.progress: list[tuple[float, str | None]] = []

    async def message(self, message: IncomingMessage) -> None:
        if not isinstance(message, Exception):
            self.notifications.append(message)

    async def log(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append(params)

    async def on_progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.progress.append((progress, message))

    def methods(self) -> list[str]:
        return [n.method for n in self.notifications]


async def test_list_changed_reaches_a_2025_session(served: ServedPortal) -> None:
    inbox = Inbox()
    async with connect(served.url, "legacy", message_handler=inbox.message) as client:
        added = await client.call_tool("demo_mutate", {"kind": "tool", "name": "added_legacy"})
        assert not added.is_error
        await eventually(
            lambda: "notifications/tools/list_changed" in inbox.methods(),
            "notifications/tools/list_changed on the client",
        )
        names = {t.name for t in (await client.list_tools()).tools}
    assert "demo_added_legacy" in names


async def test_list_changed_reaches_a_2026_listener(served: ServedPortal) -> None:
    async with connect(served.url) as client:
        assert client.protocol_version == "2026-07-28"
        async with client.listen(tools_list_changed=True, prompts_list_changed=True) as events:
            await client.call_tool("demo_mutate", {"kind": "prompt", "name": "added_prompt"})
            with anyio.fail_after(15):
                event = await events.__anext__()
        assert "prompt" in type(event).__name__.lower()
        prompts = {p.name for p in (await client.list_prompts()).prompts}
    assert "demo_added_prompt" in prompts


IDLE_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def short_idle(demo: RunningServer) -> Iterator[ServedPortal]:
    with serving(demo, session_idle_timeout_s=IDLE_TIMEOUT_S) as portal:
        yield portal


async def test_idle_sessions_are_forgotten_listening_ones_kept(short_idle: ServedPortal) -> None:
    tracked = short_idle.mcp_server("main", Surface.ALL).sessions
    inbox = Inbox()
    async with (
        connect(short_idle.url, "legacy", message_handler=inbox.message),
        httpx2.AsyncClient(headers=JSON_RPC_HEADERS) as http,
    ):
        opened = await http.post(short_idle.url, json=initialize_body())
        headers = {"mcp-session-id": opened.headers["mcp-session-id"]}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        await http.post(short_idle.url, json=initialized, headers=headers)
        await eventually(lambda: len(tracked) == 2, "both sessions tracked")

        await anyio.sleep(IDLE_TIMEOUT_S * 1.5)  # the raw session idles past the timeout
        async with connect(short_idle.url) as other:  # 2026 era: not a tracked session
            await other.call_tool("demo_mutate", {"kind": "tool", "name": "added_idle"})
        await eventually(
            lambda: "notifications/tools/list_changed" in inbox.methods(),
            "list_changed on the session that kept its GET stream open past the idle timeout",
        )
        assert len(tracked) == 1
        # ... and the SDK has ended the idle session too (each probe is activity, so probes
        # are further apart than the timeout).
        ping = {"jsonrpc": "2.0", "id": 9, "method": "ping"}
        for _ in range(10):
            if (await http.post(short_idle.url, json=ping, headers=headers)).status_code == 404:
                break
            await anyio.sleep(IDLE_TIMEOUT_S * 1.5)
        else:
            pytest.fail("the transport never ended the idle session")


CONSOLE_CODE = """
console.debug("debug line");
console.log("log line");
console.warn("warn line");
console.error("error line");
return "done";
"""


async def test_set_level_filters_console_lines_2025(served: ServedPortal) -> None:
    inbox = Inbox()
    url = served.url + "?codemode=search_and_execute"
    async with connect(url, "legacy", logging_callback=inbox.log) as client:
        await client.set_logging_level("warning")
        result = await client.call_tool(CODE, {"code": CONSOLE_CODE})
        assert json.loads(text_of(result))["result"] == "done"
        await client.set_logging_level("debug")
        await client.call_tool(CODE, {"code": 'console.debug("second run")'})
    assert [(m.level, m.data) for m in inbox.logs] == [
        ("warning", "warn line"),
        ("error", "error line"),
        ("debug", "second run"),
    ]
    assert {m.logger for m in inbox.logs} == {"sandbox"}


async def test_log_level_opt_in_2026(served: ServedPortal) -> None:
    inbox = Inbox()
    url = served.url + "?codemode=search_and_execute"
    async with connect(url, log_level="info", logging_callback=inbox.log) as client:
        await client.call_tool(CODE, {"code": CONSOLE_CODE})
    assert [(m.level, m.data) for m in inbox.logs] == [
        ("info", "log line"),
        ("warning", "warn line"),
        ("error", "error line"),
    ]


@pytest.mark.parametrize("mode", ERAS)
async def test_progress_heartbeat_during_a_long_run(served: ServedPortal, mode: str) -> None:
    inbox = Inbox()
    code = 'await codemode.demo_slow({ seconds: 1 }); return "slept"'
    async with connect(served.url + "?codemode=search_and_execute", mode) as client:
        result = await client.call_tool(CODE, {"code": code}, progress_callback=inbox.on_progress)
    assert json.loads(text_of(result))["result"] == "slept"
    assert inbox.progress, "no progress notification during a 1 s run with a 0.2 s heartbeat"
    values = [p for p, _ in inbox.progress]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert all(m is not None and m.startswith("running for") for _, m in inbox.progress)


# -- cancellation -----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ERAS)
async def test_cancelling_a_call_cancels_the_run(served: ServedPortal, mode: str) -> None:
    async with connect(served.url, "legacy") as observer:

        async def stats() -> dict[str, int]:
            answer = await observer.call_tool("demo_stats", {})
            counters: dict[str, int] = json.loads(text_of(answer))
            return counters

        before = await stats()
        url = served.url + "?codemode=search_and_execute"
        async with connect(url, mode) as client, anyio.create_task_group() as tg:
            code = "await codemode.demo_slow({ seconds: 60 }); return 'finished'"
            tg.start_soon(client.call_tool, CODE, {"code": code})

            async def started() -> bool:
                return (await stats())["slow_started"] > before["slow_started"]

            await eventually(started, "the slow upstream call to start")
            tg.cancel_scope.cancel()  # the client sends notifications/cancelled (or hangs up)

        async def cancelled_upstream() -> bool:
            return (await stats())["slow_cancelled"] > before["slow_cancelled"]

        await eventually(cancelled_upstream, "the upstream call to be cancelled")
        assert (await stats())["slow_finished"] == before["slow_finished"]
