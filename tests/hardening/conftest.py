"""One real portal server for the hardening tests, shared by every module of this folder: the
demo upstream over HTTP behind a bearer secret plus mcp-server-time over stdio, one portal
with code mode, small sandbox limits (so the hostile corpus ends quickly and a code size
over `max_code_bytes` still fits under the body cap), served by uvicorn on a free 127.0.0.1
port with a real Gateway. Plus raw-HTTP helpers for the malformed-request tests."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from engine import Config
from tests.env import restore_env
from tests.server.conftest import VENV_BIN, ServedPortal
from tests.upstreams.harness import RunningServer, demo_argv, running

# The bearer secret the portal holds for the demo upstream: no agent input may ever see it.
DEMO_TOKEN = "hardening-secret-" + uuid.uuid4().hex
DEMO_TOKEN_ENV = "CODEMODE_HARDENING_DEMO_TOKEN"
MAX_BODY_BYTES = 64 * 1024
MAX_CODE_BYTES = 16 * 1024
SANDBOX_SETTINGS: dict[str, Any] = {
    "timeout_s": 3,
    "cpu_s": 1,
    "memory_bytes": 32 << 20,
    "max_calls": 200,
    "max_code_bytes": MAX_CODE_BYTES,
    "max_args_bytes": 1 << 20,
    "max_result_bytes": 1 << 20,
    "max_log_bytes": 16 << 10,
}

LEGACY_VERSION = "2025-11-25"
JSON_RPC_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
}
# Bound on every raw HTTP exchange: a hung server fails the test instead of stalling it.
HTTP_TIMEOUT_S = 30.0


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="package")
def demo() -> Iterator[RunningServer]:
    with running(demo_argv(), env={"DEMO_TOKEN": DEMO_TOKEN}) as server:
        yield server


def hardening_config(demo_url: str) -> Config:
    return Config.from_dict(
        {
            "servers": [
                {"id": "time", "command": str(VENV_BIN / "mcp-server-time")},
                {
                    "id": "demo",
                    "url": demo_url,
                    "auth_type": "bearer",
                    "bearer_token_env": DEMO_TOKEN_ENV,
                },
            ],
            "portals": [
                {
                    "id": "main",
                    "name": "Main portal",
                    "servers": [
                        {"server_id": "time"},
                        {
                            "server_id": "demo",
                            "updated_tools": [{"name": "crash", "enabled": False}],
                        },
                    ],
                }
            ],
            "settings": {"request_log_path": ":memory:", "sandbox": SANDBOX_SETTINGS},
        }
    )


@pytest.fixture(scope="package")
def served(demo: RunningServer) -> Iterator[ServedPortal]:
    previous_env = os.environ.get(DEMO_TOKEN_ENV)
    os.environ[DEMO_TOKEN_ENV] = DEMO_TOKEN
    portal = ServedPortal(hardening_config(demo.url), {"max_body_bytes": MAX_BODY_BYTES})
    portal.start()
    try:
        yield portal
    finally:
        portal.stop()
        restore_env(DEMO_TOKEN_ENV, previous_env)


def initialize_body(request_id: int = 1) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "initialize",
        "params": {
            "protocolVersion": LEGACY_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "hardening", "version": "1"},
        },
    }


def raw_client() -> httpx2.AsyncClient:
    return httpx2.AsyncClient(headers=JSON_RPC_HEADERS, timeout=HTTP_TIMEOUT_S)


async def open_session(http: httpx2.AsyncClient, url: str) -> dict[str, str]:
    """Initialize a 2025-era session by hand; returns the headers later requests carry."""
    opened = await http.post(url, json=initialize_body())
    assert opened.status_code == 200, opened.text
    headers = {
        "mcp-session-id": opened.headers["mcp-session-id"],
        "mcp-protocol-version": LEGACY_VERSION,
    }
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    done = await http.post(url, json=initialized, headers=headers)
    assert done.status_code == 202, done.text
    return headers


@asynccontextmanager
async def connect(url: str, mode: str = "legacy") -> AsyncIterator[Client]:
    """An SDK client session on `url` (legacy: 2025-11-25 initialize and sessions)."""
    transport = streamable_http_client(url, http_client=create_mcp_http_client())
    async with Client(transport, mode=mode) as client:
        yield client


def text_of(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def assert_still_serving(url: str) -> None:
    """A normal client still lists the tools and runs a tool call after whatever came before."""
    with anyio.fail_after(HTTP_TIMEOUT_S):
        async with connect(url) as client:
            listed = await client.list_tools()
            assert "demo_echo" in {t.name for t in listed.tools}
            echoed = await client.call_tool("demo_echo", {"value": "still here"})
    assert not echoed.is_error, text_of(echoed)
    assert json.loads(text_of(echoed)) == {"value": "still here"}


def sse_messages(response: httpx2.Response) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a response, whether sent as plain JSON or as an SSE stream."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return [response.json()]
    return [
        json.loads(line.removeprefix("data:"))
        for line in response.text.splitlines()
        if line.startswith("data:") and line.removeprefix("data:").strip()
    ]
