"""A running portal whose demo `echo` needs a person's approval, with `[identity]` on (the dev
sign-in, so two real people get real access tokens), and `mcp` SDK clients that answer the
approval question (or cannot).

Portal `team`: the demo upstream (HTTP, bearer) with `echo` marked `require_approval`, DLP
`credentials_and_secrets` at `log` (so a token is sent as-is but never shown in the question).
`approval_timeout_s` is short so the timeout test is quick.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from engine import Config
from tests.identity_flow.devflow import connect_client
from tests.server.conftest import DEMO_TOKEN, DEMO_TOKEN_ENV, ServedPortal
from tests.upstreams.harness import RunningServer, demo_argv, running

SECRET_ENV = "CODEMODE_APPROVAL_TEST_KEY"
APPROVAL_TIMEOUT_S = 1.0

Answer = Callable[[types.ElicitRequestParams], Awaitable[types.ElicitResult]]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def approval_config(demo_url: str, directory: Path) -> Config:
    return Config.from_dict(
        {
            "identity": {"provider": "dev"},
            "policies": [
                {"id": "staff", "decision": "allow", "include": [{"email_domain": "example.com"}]}
            ],
            "servers": [
                {
                    "id": "demo",
                    "url": demo_url,
                    "auth_type": "bearer",
                    "bearer_token_env": DEMO_TOKEN_ENV,
                    "policies": ["staff"],
                    "updated_tools": [{"name": "echo", "require_approval": True}],
                }
            ],
            "portals": [
                {
                    "id": "team",
                    "policies": ["staff"],
                    "servers": [{"server_id": "demo"}],
                    "dlp_profiles": ["credentials_and_secrets"],
                    "dlp_action": "log",
                }
            ],
            "settings": {
                "request_log_path": ":memory:",
                "database_url": f"sqlite+aiosqlite:///{directory / 'codemode.db'}",
                "secret_key_env": SECRET_ENV,
                "approval_timeout_s": APPROVAL_TIMEOUT_S,
            },
        }
    )


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedPortal]:
    mp = pytest.MonkeyPatch()
    mp.setenv(SECRET_ENV, secrets.token_urlsafe(32))
    mp.setenv(DEMO_TOKEN_ENV, DEMO_TOKEN)
    demo: RunningServer
    with running(demo_argv(), env={"DEMO_TOKEN": DEMO_TOKEN}) as demo:
        portal = ServedPortal(approval_config(demo.url, tmp_path_factory.mktemp("approval")))
        portal.start()
        try:
            yield portal
        finally:
            portal.stop()
            mp.undo()


@pytest.fixture(scope="module")
async def tokens(served: ServedPortal) -> dict[str, str]:
    """An access token for the `team` portal per person, from the real sign-in flow."""
    out = {}
    for person in ("ana@example.com", "bob@example.com"):
        got = await connect_client(served.base, person, portal="/p/team")
        out[person] = got.access_token
    return out


@asynccontextmanager
async def connect(
    served: ServedPortal,
    token: str,
    mode: str,
    answer: Answer | None,
    query: str = "",
) -> AsyncIterator[Client]:
    """A client of portal `team` as the token's person; `answer=None`: no elicitation
    capability at all."""

    async def callback(context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert answer is not None
        return await answer(params)

    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    url = f"{served.base}/p/team/mcp{query}"
    options: dict[str, Any] = {"elicitation_callback": callback} if answer else {}
    async with (
        http,
        Client(streamable_http_client(url, http_client=http), mode=mode, **options) as c,
    ):
        yield c


async def echo_calls(served: ServedPortal, token: str) -> int:
    """How many `echo` calls the upstream itself has received (its `stats` tool)."""
    async with connect(served, token, "auto", None) as client:
        result = await client.call_tool("demo_stats", {})
    block = result.content[0]
    assert isinstance(block, types.TextContent)
    count: int = json.loads(block.text)["echo_calls"]
    return count
