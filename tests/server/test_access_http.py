"""Policies over real HTTP: a portal server on 127.0.0.1 with named API keys, driven by the
`mcp` SDK's client. Allowed, blocked, excluded and required-missing callers; a server hidden
from one key and visible to another in tools/list and inside `code`; a caller let into a
portal with no server it may see ("No allowed servers available ...")."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from engine import Config
from engine.auth import NO_ALLOWED_SERVERS
from engine.credentials import hash_api_key
from tests.env import restore_env
from tests.server.conftest import DEMO_TOKEN, DEMO_TOKEN_ENV, VENV_BIN, ServedPortal
from tests.upstreams.harness import RunningServer

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:The logging capability is deprecated"),
]

KEYS = {name: f"{name}-key-{uuid.uuid4().hex}" for name in ("ci", "bot", "mallory", "eve")}
UNNAMED = f"unnamed-key-{uuid.uuid4().hex}"
JSON_RPC = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "policy-test", "version": "1"},
    },
}


def access_config(demo_url: str) -> Config:
    keys: list[Any] = [{"name": n, "sha256": hash_api_key(k)} for n, k in KEYS.items()]
    keys.append(hash_api_key(UNNAMED))
    return Config.from_dict(
        {
            "policies": [
                {
                    "id": "members",
                    "decision": "allow",
                    "include": [{"everyone": True}],
                    "exclude": [{"service": "mallory"}],
                },
                {"id": "no-eve", "decision": "block", "include": [{"service": "eve"}]},
                {
                    "id": "ops",
                    "decision": "allow",
                    "include": [{"everyone": True}],
                    "require": [{"service": "ci"}],
                },
                {"id": "demo-users", "decision": "allow", "include": [{"service": "ci"}]},
            ],
            "servers": [
                {"id": "time", "command": str(VENV_BIN / "mcp-server-time")},
                {
                    "id": "demo",
                    "url": demo_url,
                    "auth_type": "bearer",
                    "bearer_token_env": DEMO_TOKEN_ENV,
                    "policies": ["demo-users"],
                },
            ],
            "portals": [
                {
                    "id": "team",
                    "api_keys": keys,
                    "policies": ["members", "no-eve"],
                    "servers": [{"server_id": "time"}, {"server_id": "demo"}],
                },
                {
                    "id": "ops",
                    "api_keys": keys,
                    "policies": ["ops"],
                    "servers": [{"server_id": "time"}],
                },
                {
                    "id": "demoonly",
                    "api_keys": keys,
                    "policies": ["members"],
                    "servers": [{"server_id": "demo"}],
                },
            ],
            "settings": {"request_log_path": ":memory:"},
        }
    )


@pytest.fixture(scope="module")
def served(demo: RunningServer) -> Iterator[ServedPortal]:
    previous_env = os.environ.get(DEMO_TOKEN_ENV)
    os.environ[DEMO_TOKEN_ENV] = DEMO_TOKEN
    portal = ServedPortal(access_config(demo.url))
    portal.start()
    try:
        yield portal
    finally:
        portal.stop()
        restore_env(DEMO_TOKEN_ENV, previous_env)


def url(served: ServedPortal, portal: str, query: str = "") -> str:
    return f"{served.base}/p/{portal}/mcp{query}"


@asynccontextmanager
async def connect(address: str, key: str) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with Client(streamable_http_client(address, http_client=http), mode="auto") as client:
        yield client


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def initialize(address: str, key: str | None) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with httpx2.AsyncClient(headers=JSON_RPC) as http:
        return await http.post(address, json=INITIALIZE, headers=headers)


PROBE = """
const found = await codemode.search("echo a value back", { limit: 50 });
let called;
try { called = await codemode.demo_echo({ value: 7 }); }
catch (e) { called = e.name + ": " + e.message; }
return { found, called };
"""


async def test_a_server_hidden_from_one_key_is_visible_to_another(served: ServedPortal) -> None:
    async with connect(url(served, "team"), KEYS["ci"]) as ci:
        ci_tools = {t.name for t in (await ci.list_tools()).tools}
    async with connect(url(served, "team"), KEYS["bot"]) as bot:
        bot_tools = {t.name for t in (await bot.list_tools()).tools}
        bot_prompts = (await bot.list_prompts()).prompts
    assert "demo_echo" in ci_tools and "time_get_current_time" in ci_tools
    assert bot_tools and all(n.startswith("time_") for n in bot_tools)
    assert bot_prompts == []

    async with connect(url(served, "team", "?codemode=search_and_execute"), KEYS["ci"]) as ci:
        ran = await ci.call_tool("code", {"code": PROBE})
    assert (
        not ran.is_error
        and "demo_echo(" in text_of(ran)
        and '"called": {"value": 7}' in text_of(ran)
    )
    async with connect(url(served, "team", "?codemode=search_and_execute"), KEYS["bot"]) as bot:
        ran = await bot.call_tool("code", {"code": PROBE})
    assert not ran.is_error
    assert "demo_echo(" not in text_of(ran)
    assert "TypeError: codemode.demo_echo is not a tool available to this code" in text_of(ran)

    async with connect(url(served, "team", "?optimize_context=minimize_tools"), KEYS["bot"]) as bot:
        names = {t.name for t in (await bot.list_tools()).tools}
        queried = await bot.call_tool("query", {"query": "echo a value back", "limit": 50})
        direct = await bot.call_tool("demo_echo", {"value": 1})
    assert names == {*bot_tools, "query"}
    assert "demo_" not in text_of(queried)
    assert direct.is_error and "unknown tool 'demo_echo'" in text_of(direct)


@pytest.mark.parametrize(
    ("portal", "key", "status", "says"),
    [
        ("team", "ci", 200, ""),  # allowed
        ("team", "bot", 200, ""),
        ("team", "eve", 403, "API key 'eve' may not use portal 'team': blocked by policy 'no-eve'"),
        ("team", "mallory", 403, "no allow policy matches (policies: members, no-eve)"),  # excluded
        ("ops", "ci", 200, ""),
        ("ops", "bot", 403, "API key 'bot' may not use portal 'ops'"),  # required service missing
        ("team", None, 401, "needs an API key"),  # keys still gate first
    ],
)
async def test_who_may_enter(
    served: ServedPortal, portal: str, key: str | None, status: int, says: str
) -> None:
    response = await initialize(url(served, portal), KEYS[key] if key else None)
    assert response.status_code == status, response.text
    if says:
        assert says in response.json()["error"]
    assert not any(k in response.text for k in KEYS.values())


async def test_let_in_but_no_server(served: ServedPortal) -> None:
    expected = f"{NO_ALLOWED_SERVERS} (portal policies: members; server policies: demo-users)"
    async with connect(url(served, "demoonly"), KEYS["bot"]) as bot:
        assert (await bot.list_tools()).tools == []
        called = await bot.call_tool("demo_echo", {"value": 1})
    assert called.is_error and text_of(called) == expected
    async with connect(url(served, "demoonly", "?codemode=search_and_execute"), KEYS["bot"]) as bot:
        assert [t.name for t in (await bot.list_tools()).tools] == ["code"]
        ran = await bot.call_tool("code", {"code": "return 1"})
    assert ran.is_error and text_of(ran) == expected
    async with connect(url(served, "demoonly"), KEYS["ci"]) as ci:
        assert "demo_echo" in {t.name for t in (await ci.list_tools()).tools}


async def test_request_log_names_the_service(served: ServedPortal) -> None:
    for key in (KEYS["bot"], UNNAMED):
        async with connect(url(served, "team"), key) as client:
            result = await client.call_tool("time_get_current_time", {"timezone": "UTC"})
        assert not result.is_error
    assert served.gateway is not None
    served.gateway.request_log.flush()
    rows = served.gateway.request_log.query(portal="team", limit=2)
    assert [r.user for r in rows] == ["key:" + hash_api_key(UNNAMED)[:8], "bot"]


async def test_homepage_names_only_servers_anyone_may_see(served: ServedPortal) -> None:
    """The page knows no one: a visitor is anonymous, whom `team`'s policies do not let in."""
    async with httpx2.AsyncClient() as http:
        page = (await http.get(f"{served.base}/p/team/")).text
    assert "data-server=" not in page
    assert "2 servers shown only to callers the portal's policies allow" in page
