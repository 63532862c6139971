"""Upstream resources through a running portal, with the `mcp` SDK's client in both protocol
eras, on every surface: listing (paginated upstream, namespaced on collision), reading text,
binary and templated resources, curation, access, subscriptions and list changes."""

from __future__ import annotations

import base64
import json

import anyio
import mcp_types as types
import pytest
from mcp.client.session import IncomingMessage
from mcp.shared.exceptions import MCPError

from tests.resources.conftest import (
    ALIASED_DOC,
    HIDDEN_DOC,
    KEYS,
    SURFACES,
    connect,
    url,
)
from tests.server.conftest import ServedPortal, eventually
from tests.upstreams.resources_server import PNG

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:The logging capability is deprecated"),
    pytest.mark.filterwarnings("ignore:resources/(un)?subscribe is removed"),
]

ERAS = ["legacy", "auto"]
RES_TEXT = "codemode://res/test://static-text"
RES2_TEXT = "codemode://res2/test://static-text"


class Inbox:
    def __init__(self) -> None:
        self.notifications: list[types.ServerNotification] = []

    async def message(self, message: IncomingMessage) -> None:
        if not isinstance(message, Exception):
            self.notifications.append(message)

    def updated(self) -> list[str]:
        return [
            n.params.uri
            for n in self.notifications
            if isinstance(n, types.ResourceUpdatedNotification)
        ]

    def methods(self) -> list[str]:
        return [n.method for n in self.notifications]


def template_uris(result: types.ListResourceTemplatesResult) -> set[str]:
    return {t.uri_template for t in result.resource_templates}


def text_of(result: types.ReadResourceResult) -> str:
    return "".join(c.text for c in result.contents if isinstance(c, types.TextResourceContents))


@pytest.mark.parametrize("surface", SURFACES)
@pytest.mark.parametrize("mode", ERAS)
async def test_every_surface_lists_and_reads_resources(
    served: ServedPortal, mode: str, surface: str
) -> None:
    async with connect(url(served, "main", surface), KEYS["ci"], mode) as client:
        caps = client.server_capabilities.resources
        assert caps is not None and caps.subscribe and caps.list_changed
        listed = {r.uri: r for r in (await client.list_resources()).resources}
        templates = template_uris(await client.list_resource_templates())
        # Two servers list the same URIs: both are namespaced. The rest keep theirs.
        assert {RES_TEXT, RES2_TEXT, "codemode://res/test://watched-resource"} <= set(listed)
        assert "codemode://res/test://static-binary" in listed  # page 2 of res's listing
        assert "test://static-text" not in listed
        assert "demo://resource/static/document/instructions.md" in listed
        assert "demo://resource/dynamic/text/{resourceId}" in templates
        assert "codemode://res2/test://template/{id}/data" in templates

        res2 = await client.read_resource(RES2_TEXT)
        assert "[b]" in text_of(res2) and res2.contents[0].uri == RES2_TEXT
        res = await client.read_resource(RES_TEXT)
        assert "[a]" in text_of(res)
        templated = await client.read_resource("codemode://res/test://template/123/data")
        assert json.loads(text_of(templated)) == {"id": "123", "tag": " [a]"}
        binary = await client.read_resource("codemode://res/test://static-binary")
        [blob] = binary.contents
        assert isinstance(blob, types.BlobResourceContents) and blob.mime_type == "image/png"
        assert base64.b64decode(blob.blob) == PNG
        # An upstream URI no other server shares is read as the server wrote it.
        doc = await client.read_resource("demo://resource/static/document/instructions.md")
        assert doc.contents[0].uri == "demo://resource/static/document/instructions.md"
        dynamic = await client.read_resource("demo://resource/dynamic/text/7")
        assert "Resource 7" in text_of(dynamic)


async def test_curation_hides_and_renames_resources(served: ServedPortal) -> None:
    async with connect(url(served, "main"), KEYS["ci"]) as client:
        listed = {r.uri: r for r in (await client.list_resources()).resources}
        assert HIDDEN_DOC not in listed
        assert listed[ALIASED_DOC].name == "arch"
        assert listed[ALIASED_DOC].description == "How the server is built."
        for spelling in (HIDDEN_DOC, f"codemode://everything/{HIDDEN_DOC}"):
            with pytest.raises(MCPError) as refused:
                await client.read_resource(spelling)
            assert "unknown resource" in str(refused.value)
        # The upstream still has it: the portal, not the server, said no.
        assert served.gateway is not None
        upstream = await served.gateway.catalog.read_resource("everything", HIDDEN_DOC)
        assert upstream.contents


async def test_resources_of_a_server_a_caller_may_not_use_are_not_listed_or_read(
    served: ServedPortal,
) -> None:
    async with connect(url(served, "main"), KEYS["bot"]) as bot:
        listed = {r.uri for r in (await bot.list_resources()).resources}
        templates = template_uris(await bot.list_resource_templates())
        assert RES_TEXT in listed and not any(u.startswith("codemode://res2/") for u in listed)
        assert not any(t.startswith("codemode://res2/") for t in templates)
        with pytest.raises(MCPError) as hidden:
            await bot.read_resource(RES2_TEXT)
        with pytest.raises(MCPError) as absent:
            await bot.read_resource("codemode://nosuch/test://static-text")
        # Refused exactly like a server that does not exist: nothing tells it is there.
        assert str(hidden.value).replace(RES2_TEXT, "X") == str(absent.value).replace(
            "codemode://nosuch/test://static-text", "X"
        )
        # A listen stream naming it is accepted (as for a URI that does not exist) but holds
        # no upstream subscription: nothing of res2 ever reaches it.
        assert served.gateway is not None
        hidden_watch = "codemode://res2/test://watched-resource"
        async with bot.listen(resource_subscriptions=[hidden_watch, RES_TEXT]):
            subscribed = served.gateway.catalog.subscribed
            assert "test://static-text" in subscribed("res")  # the visible one: control
            assert "test://watched-resource" not in subscribed("res2")
    async with connect(url(served, "main"), KEYS["bot"], "legacy") as bot:
        with pytest.raises(MCPError):
            await bot.subscribe_resource(RES2_TEXT)  # pyright: ignore[reportDeprecated]
    async with connect(url(served, "main", "?codemode=search_and_execute"), KEYS["bot"]) as bot:
        ran = await bot.call_tool(
            "code",
            {
                "code": f"""
const list = await codemode.resources.list();
let read; try {{ read = await codemode.resources.read("{RES2_TEXT}"); }}
catch (e) {{ read = e.message; }}
return {{ uris: list.map(r => r.uri), read }};"""
            },
        )
    out = json.loads(ran.content[0].text)["result"]  # type: ignore[union-attr]
    assert RES_TEXT in out["uris"] and not any("res2" in u for u in out["uris"])
    assert out["read"].startswith("unknown resource")


async def test_a_code_run_lists_reads_and_finds_resources(served: ServedPortal) -> None:
    code = f"""
const list = await codemode.resources.list();
const templates = await codemode.resources.templates();
const [text] = await codemode.resources.read("{RES2_TEXT}");
const [png] = await codemode.resources.read("codemode://res/test://static-binary");
const [data] = await codemode.resources.read("codemode://res/test://template/9/data");
const found = await codemode.search("how the server is built");
const declared = await codemode.describe("resources");
return {{ n: list.length, templates: templates.map(t => t.uriTemplate), text, png,
          data: JSON.parse(data.text), found, declared }};"""
    async with connect(url(served, "main", "?codemode=search_and_execute"), KEYS["ci"]) as client:
        ran = await client.call_tool("code", {"code": code})
    assert not ran.is_error, ran.content
    out = json.loads(ran.content[0].text)["result"]  # type: ignore[union-attr]
    assert out["n"] >= 10
    assert "codemode://res/test://template/{id}/data" in out["templates"]
    assert out["text"]["uri"] == RES2_TEXT and "[b]" in out["text"]["text"]
    assert out["png"]["mimeType"] == "image/png" and base64.b64decode(out["png"]["blob"]) == PNG
    assert out["data"] == {"id": "9", "tag": " [a]"}
    assert ALIASED_DOC in out["found"] and "codemode.resources.read" in out["found"]
    assert "read(uri: string): Promise<CodemodeResourceContents[]>" in out["declared"]


async def test_reads_are_in_the_request_log_with_the_caller(served: ServedPortal) -> None:
    assert served.gateway is not None
    log = served.gateway.calls.request_log
    async with connect(url(served, "main"), KEYS["ci"]) as client:
        await client.read_resource("codemode://res2/test://template/77/data")
        with pytest.raises(MCPError):
            await client.read_resource("codemode://res2/test://template/")
    log.flush()
    rows = [r for r in log.query(portal="main", server="res2", limit=50) if "/77/" in r.capability]
    assert rows and rows[0].kind == "resource_read" and rows[0].status == "ok"
    assert rows[0].user == "ci" and rows[0].response_bytes > 0


async def test_query_finds_resources(served: ServedPortal) -> None:
    address = url(served, "main", "?optimize_context=search_and_execute")
    async with connect(address, KEYS["ci"]) as client:
        found = await client.call_tool("query", {"query": "how the server is built"})
    assert not found.is_error
    assert found.structured_content is not None
    assert ALIASED_DOC in [r["uri"] for r in found.structured_content["resources"]]


async def test_a_2025_session_gets_updates_of_what_it_subscribed_to(served: ServedPortal) -> None:
    assert served.gateway is not None
    catalog = served.gateway.catalog
    inbox = Inbox()
    watched = "codemode://res/test://watched-resource"
    dynamic = "demo://resource/dynamic/text/1"
    async with connect(
        url(served, "main"), KEYS["ci"], "legacy", message_handler=inbox.message
    ) as client:
        await client.subscribe_resource(watched)  # pyright: ignore[reportDeprecated]
        await client.subscribe_resource(dynamic)  # pyright: ignore[reportDeprecated]
        assert "test://watched-resource" in catalog.subscribed("res")
        assert dynamic in catalog.subscribed("everything")
        # A 2026-era upstream (res) and a 2025-era one (everything) each send an update.
        assert not (await client.call_tool("res_touch", {})).is_error
        toggled = await client.call_tool("everything_toggle-subscriber-updates", {})
        assert not toggled.is_error
        try:
            await eventually(
                lambda: {watched, dynamic} <= set(inbox.updated()), "both resources updated"
            )
        finally:
            await client.call_tool("everything_toggle-subscriber-updates", {})
        after = await client.read_resource(watched)
        assert "version" in text_of(after)
        await client.unsubscribe_resource(watched)  # pyright: ignore[reportDeprecated]
        assert "test://watched-resource" not in catalog.subscribed("res")
    # The session ended (DELETE): its remaining subscription is let go upstream.
    await eventually(lambda: dynamic not in catalog.subscribed("everything"), "unsubscribed")


async def test_a_2026_listener_gets_updates_of_the_uris_it_named(served: ServedPortal) -> None:
    assert served.gateway is not None
    catalog = served.gateway.catalog
    watched = "codemode://res/test://watched-resource"
    async with connect(url(served, "main"), KEYS["ci"]) as client:
        assert client.protocol_version == "2026-07-28"
        async with client.listen(resource_subscriptions=[watched]) as events:
            assert "test://watched-resource" in catalog.subscribed("res")
            await client.call_tool("res_touch", {})
            with anyio.fail_after(15):
                event = await events.__anext__()
        assert getattr(event, "uri", None) == watched
    # The stream closed: the upstream subscription it held is let go.
    await eventually(lambda: "test://watched-resource" not in catalog.subscribed("res"), "released")


async def test_an_upstream_resource_list_change_reaches_clients(served: ServedPortal) -> None:
    inbox = Inbox()
    added = "test://added/fresh"  # only res2 lists it: it keeps its upstream URI
    async with connect(
        url(served, "main"), KEYS["ci"], "legacy", message_handler=inbox.message
    ) as client:
        assert not (await client.call_tool("res2_add", {"name": "fresh"})).is_error
        await eventually(
            lambda: "notifications/resources/list_changed" in inbox.methods(),
            "notifications/resources/list_changed on the client",
        )
        listed = {r.uri for r in (await client.list_resources()).resources}
        assert added in listed
        fresh = await client.read_resource(added)
        assert fresh.contents[0].uri == added and "[b]" in text_of(fresh)
