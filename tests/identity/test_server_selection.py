"""Choosing servers from the client (issue 13): a signed-in client turns a server off and on
with `portal_servers` or `codemode.portal.*`, through the real IdP, real `codemode serve` and
real `mcp` SDK clients of both eras. The choice is kept per client grant: it survives a
reconnect with the same token, and another grant (even the same person's) keeps its own.

People and servers are in conftest.py: ana sees `time` and `demo` in portal `team`, bob only
`time` (`demo` is hidden from him)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import mcp_types as types
import pytest
from mcp.client.client import Client
from mcp.client.session import IncomingMessage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.identity.conftest import Stack
from tests.identity.flows import CODE, authorize, text_of
from tests.server.conftest import eventually

pytestmark = pytest.mark.anyio

LIST_CHANGED = "notifications/tools/list_changed"
MINIMIZED = "?optimize_context=minimize_tools"


class Inbox:
    """The notifications a client received (method names)."""

    def __init__(self) -> None:
        self.methods: list[str] = []

    async def message(self, message: IncomingMessage) -> None:
        if not isinstance(message, Exception):
            self.methods.append(message.method)

    async def announced(self) -> None:
        await eventually(lambda: LIST_CHANGED in self.methods, LIST_CHANGED)
        self.methods.clear()


@asynccontextmanager
async def connect(
    url: str, token: str, inbox: Inbox | None = None, *, mode: str = "legacy"
) -> AsyncIterator[Client]:
    """A 2025-era session by default (list_changed arrives on its stream)."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    handler = inbox.message if inbox is not None else None
    async with Client(
        streamable_http_client(url, http_client=http), mode=mode, message_handler=handler
    ) as client:
        yield client


async def names(client: Client) -> set[str]:
    return {t.name for t in (await client.list_tools()).tools}


async def choose(client: Client, **arguments: Any) -> types.CallToolResult:
    return await client.call_tool("portal_servers", arguments)


async def code(client: Client, source: str) -> tuple[bool, str]:
    result = await client.call_tool("code", {"code": source})
    return bool(result.is_error), text_of(result)


def token_of(stack: Stack, account: str) -> str:
    """A new client grant for `account` on portal `team` (a fresh registration each time)."""
    return str(authorize(stack, account).tokens()["access_token"])


async def test_disable_and_enable_a_server_from_the_client(flow: Stack) -> None:
    url = flow.portal.mcp_url("team")
    ana, ana_elsewhere = token_of(flow, "ana@example.com"), token_of(flow, "ana@example.com")
    inbox, elsewhere = Inbox(), Inbox()
    async with (
        connect(url, ana, inbox) as client,
        connect(flow.portal.mcp_url("team", CODE), ana) as coder,
        connect(flow.portal.mcp_url("team", MINIMIZED), ana) as minimized,
        connect(url, ana_elsewhere, elsewhere) as other_client,
    ):
        before = await names(client)
        assert (await client.list_prompts()).prompts  # demo's (time has none)
        assert {"portal_servers", "demo_echo", "time_get_current_time"} <= before, before
        listed = await choose(client, action="list")
        assert not listed.is_error, text_of(listed)
        servers = {s["id"]: s for s in (listed.structured_content or {})["servers"]}
        assert set(servers) == {"time", "demo"}
        assert servers["demo"]["enabled"] is True and servers["demo"]["name"] == "Demo"
        assert servers["demo"]["state"] == "Ready"

        off = await choose(client, action="disable", server="demo")
        assert not off.is_error, text_of(off)
        assert (off.structured_content or {})["enabled"] is False
        await inbox.announced()  # list_changed on this client's own session
        after = await names(client)
        assert not any(n.startswith("demo_") for n in after), after
        assert "time_get_current_time" in after and "portal_servers" in after
        assert (await client.list_prompts()).prompts == []  # its prompts left too

        direct = await client.call_tool("demo_echo", {"value": 1})
        assert direct.is_error
        said = text_of(direct)
        assert "disabled for this client" in said and '"action": "enable"' in said, said

        # Inside code the method is gone and search does not find it.
        present = "return ['demo_echo' in codemode, Object.keys(codemode).includes('demo_echo')]"
        failed, said = await code(coder, present)
        assert not failed and json.loads(said)["result"] == [False, False], said
        failed, said = await code(coder, "return await codemode.search('echo the value back')")
        assert not failed and "demo_echo" not in said, said
        failed, said = await code(coder, "return await codemode.demo_echo({value: 1})")
        assert failed and "Disabled for this client" in said and "demo" in said, said
        # query does not return it either.
        found = await minimized.call_tool("query", {"query": "echo the value back"})
        assert "demo_echo" not in text_of(found)
        assert not any(n.startswith("demo_") for n in await names(minimized))

        # Another grant of the same person keeps its own choice.
        assert "demo_echo" in await names(other_client)

        on = await choose(client, action="enable", server="demo")
        assert not on.is_error and (on.structured_content or {})["enabled"] is True
        await inbox.announced()
        assert "demo_echo" in await names(client)
        echoed = await client.call_tool("demo_echo", {"value": 7})
        assert not echoed.is_error, text_of(echoed)
        failed, said = await code(coder, present)
        assert not failed and json.loads(said)["result"] == [True, True], said

        # The other grant's session heard none of that: its first list_changed is for its own
        # change (announcements go out in order, so one for ana's changes would be before it).
        mine = await choose(other_client, action="disable", server="time")
        assert not mine.is_error, text_of(mine)
        await eventually(lambda: LIST_CHANGED in elsewhere.methods, "its own list_changed")
        assert elsewhere.methods.count(LIST_CHANGED) == 1, elsewhere.methods
        assert "time_get_current_time" in await names(client)


async def test_selection_survives_a_2026_reconnect_and_is_not_shared(flow: Stack) -> None:
    url = flow.portal.mcp_url("team")
    ana, other = token_of(flow, "ana@example.com"), token_of(flow, "ana@example.com")
    coder_url = flow.portal.mcp_url("team", CODE)
    async with connect(url, ana, mode="auto") as modern:
        assert modern.protocol_version == "2026-07-28"
        async with modern.listen(tools_list_changed=True) as events:
            off = await choose(modern, action="disable", server="demo")
            assert not off.is_error, text_of(off)
            with anyio.fail_after(15):
                await events.__anext__()  # the 2026-era listener hears the change
    # A new connection with the same token (the same grant): the choice is still there.
    async with connect(url, ana, mode="auto") as again:
        assert "demo_echo" not in await names(again)
    async with connect(coder_url, ana, mode="auto") as coder:
        failed, said = await code(coder, "return await codemode.portal.list()")
        assert not failed, said
        by_id = {s["id"]: s["enabled"] for s in json.loads(said)["result"]}
        assert by_id == {"time": True, "demo": False}, said
    # Another grant, and another person, are not affected.
    async with connect(url, other, mode="auto") as elsewhere:
        assert "demo_echo" in await names(elsewhere)
    bob = token_of(flow, "bob@example.com")
    async with connect(url, bob, mode="auto") as bobs:
        assert "time_get_current_time" in await names(bobs)
    # Turned on again from inside code; the next list shows it.
    async with connect(coder_url, ana, mode="auto") as coder:
        failed, said = await code(coder, 'return await codemode.portal.enable("demo")')
        assert not failed and json.loads(said)["result"]["enabled"] is True, said
        failed, said = await code(coder, "return Object.keys(codemode).includes('demo_echo')")
        assert not failed and json.loads(said)["result"] is True, said
    async with connect(url, ana, mode="auto") as again:
        assert "demo_echo" in await names(again)


async def test_codemode_search_and_describe_find_the_portal_methods(flow: Stack) -> None:
    ana = token_of(flow, "ana@example.com")
    async with connect(flow.portal.mcp_url("team", CODE), ana) as coder:
        failed, said = await code(coder, "return await codemode.search('disable a server')")
        assert not failed and "disable(id: string)" in said, said
        failed, said = await code(coder, "return await codemode.describe('portal')")
        assert not failed and "enable(id: string)" in said, said
    async with connect(
        flow.portal.mcp_url("team", "?optimize_context=search_and_execute"), ana
    ) as s:
        assert {"query", "execute", "portal_servers"} <= await names(s)
        found = await s.call_tool("query", {"query": "enable a server for this client"})
        assert "enable(id: string)" in text_of(found), text_of(found)


async def test_bad_inputs_are_clear_errors_and_hidden_servers_stay_hidden(flow: Stack) -> None:
    url = flow.portal.mcp_url("team")
    ana, bob = token_of(flow, "ana@example.com"), token_of(flow, "bob@example.com")
    async with connect(url, ana) as client:
        unknown = await choose(client, action="disable", server="nosuch")
        assert unknown.is_error and "no server 'nosuch'" in text_of(unknown), text_of(unknown)
        missing = await client.call_tool("portal_servers", {})
        assert missing.is_error and "action" in text_of(missing), text_of(missing)
        wrong = await choose(client, action="explode")
        assert wrong.is_error and "list, enable, disable" in text_of(wrong)
        no_id = await choose(client, action="enable")
        assert no_id.is_error and '"server"' in text_of(no_id), text_of(no_id)
        logout = await choose(client, action="logout")
        assert logout.is_error and '"server"' in text_of(logout), text_of(logout)
        plain = await choose(client, action="logout", server="time")
        assert plain.is_error and "no per-person connection to log out of" in text_of(plain)
        page = await choose(client, action="select")
        assert not page.is_error
        selection_page = f"{flow.portal.origin}/connections?portal=team&client="
        assert (page.structured_content or {})["url"].startswith(selection_page)
        failed, said = await code_on(flow, ana, 'return await codemode.portal.disable("nosuch")')
        assert failed and "no server 'nosuch'" in said, said
    async with connect(url, bob) as bobs:
        listed = await choose(bobs, action="list")
        assert [s["id"] for s in (listed.structured_content or {})["servers"]] == ["time"]
        hidden = await choose(bobs, action="enable", server="demo")
        absent = await choose(bobs, action="enable", server="nosuch")
        assert hidden.is_error and absent.is_error
        # A server hidden from bob is answered exactly like one that does not exist.
        assert text_of(hidden).replace("demo", "X") == text_of(absent).replace("nosuch", "X")


async def code_on(flow: Stack, token: str, source: str) -> tuple[bool, str]:
    async with connect(flow.portal.mcp_url("team", CODE), token) as coder:
        return await code(coder, source)
