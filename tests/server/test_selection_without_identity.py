"""Without `[identity]` no client has a grant to keep a server selection under: the portal
lists no `portal_servers` tool, and `codemode.portal.*` says why it cannot choose (listing
still works: every server the caller may use, all on)."""

from __future__ import annotations

import json

import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client

from engine.selection import NOT_AVAILABLE
from tests.server.conftest import ServedPortal

pytestmark = pytest.mark.anyio


async def test_no_selection_tool_and_a_clear_error_in_code(served: ServedPortal) -> None:
    async with Client(streamable_http_client(served.url)) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert "portal_servers" not in names and "time_get_current_time" in names
        called = await client.call_tool("portal_servers", {"action": "list"})
        assert called.is_error and "unknown tool 'portal_servers'" in str(called.content)
    coder_url = served.url + "?codemode=search_and_execute"
    async with Client(streamable_http_client(coder_url)) as coder:
        listed = await coder.call_tool("code", {"code": "return await codemode.portal.list()"})
        assert not listed.is_error, listed.content
        servers = json.loads(listed.content[0].text)["result"]  # type: ignore[union-attr]
        assert [(s["id"], s["enabled"]) for s in servers] == [("time", True), ("demo", True)]
        refused = await coder.call_tool(
            "code", {"code": 'return await codemode.portal.disable("demo")'}
        )
        assert refused.is_error and NOT_AVAILABLE in str(refused.content), refused.content
