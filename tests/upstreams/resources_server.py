"""An upstream MCP server with the resources the conformance suite's resource scenarios read,
built on the `mcp` SDK's low-level server, over stdio, both protocol eras.

    python -m tests.upstreams.resources_server [--tag TEXT]

Resources (listed two per page, so listing paginates): `test://static-text` (text/plain),
`test://static-binary` (image/png, a blob), `test://watched-resource` (text that changes on
`touch`); template `test://template/{id}/data`. Tools: `touch` (changes the watched resource and
announces `notifications/resources/updated` to subscribers: 2025 era on `resources/subscribe`,
2026 era on `subscriptions/listen`), `add` (adds `test://added/<name>` and announces
resources list_changed). `--tag` goes into every text, so two instances can be told apart.
"""

from __future__ import annotations

import argparse
import base64
import json
from typing import Any

import anyio
import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.stdio import stdio_server
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    ResourcesListChanged,
    ResourceUpdated,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

PAGE_SIZE = 2
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")
"""The first bytes of a 1x1 PNG: binary, and not valid UTF-8."""

Ctx = ServerRequestContext[dict[str, Any], Any]


class ResourcesServer(Server[dict[str, Any]]):
    """Advertises resources listChanged to 2025-era clients too (the SDK leaves it off)."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            NotificationOptions(resources_changed=True), experimental_capabilities, extensions
        )


def build_server(tag: str) -> ResourcesServer:
    bus = InMemorySubscriptionBus()
    state: dict[str, Any] = {"version": 1, "added": [], "subscribed": set()}

    def resources() -> list[types.Resource]:
        fixed = [
            types.Resource(uri="test://static-text", name="static-text", mime_type="text/plain"),
            types.Resource(
                uri="test://static-binary",
                name="static-binary",
                description="A small PNG image.",
                mime_type="image/png",
            ),
            types.Resource(
                uri="test://watched-resource",
                name="watched-resource",
                description="Changes whenever the touch tool runs.",
                mime_type="text/plain",
            ),
        ]
        added = [
            types.Resource(uri=f"test://added/{n}", name=n, mime_type="text/plain")
            for n in state["added"]
        ]
        return fixed + added

    async def list_resources(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        start = int(params.cursor) if params and params.cursor else 0
        items = resources()
        end = start + PAGE_SIZE
        cursor = str(end) if end < len(items) else None
        return types.ListResourcesResult(resources=items[start:end], next_cursor=cursor)

    async def list_templates(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListResourceTemplatesResult:
        template = types.ResourceTemplate(
            uri_template="test://template/{id}/data",
            name="template-data",
            description="Data for one id.",
            mime_type="application/json",
        )
        return types.ListResourceTemplatesResult(resource_templates=[template])

    async def read_resource(
        ctx: Ctx, params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = params.uri
        content: types.TextResourceContents | types.BlobResourceContents
        if uri == "test://static-binary":
            blob = base64.b64encode(PNG).decode()
            content = types.BlobResourceContents(uri=uri, mime_type="image/png", blob=blob)
        elif uri == "test://static-text":
            text = f"This is the content of the static text resource.{tag}"
            content = types.TextResourceContents(uri=uri, mime_type="text/plain", text=text)
        elif uri == "test://watched-resource":
            text = f"version {state['version']}{tag}"
            content = types.TextResourceContents(uri=uri, mime_type="text/plain", text=text)
        elif uri.startswith("test://template/") and uri.endswith("/data"):
            ident = uri.removeprefix("test://template/").removesuffix("/data")
            text = json.dumps({"id": ident, "tag": tag})
            content = types.TextResourceContents(uri=uri, mime_type="application/json", text=text)
        elif uri in {r.uri for r in resources()}:
            content = types.TextResourceContents(uri=uri, mime_type="text/plain", text=uri + tag)
        else:
            raise ValueError(f"Resource not found: {uri}")
        return types.ReadResourceResult(contents=[content])

    async def subscribe(ctx: Ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        state["subscribed"].add(params.uri)
        return types.EmptyResult()

    async def unsubscribe(ctx: Ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        state["subscribed"].discard(params.uri)
        return types.EmptyResult()

    async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        modern = ctx.protocol_version in MODERN_PROTOCOL_VERSIONS
        if params.name == "touch":
            state["version"] += 1
            uri = "test://watched-resource"
            if modern:
                await bus.publish(ResourceUpdated(uri=uri))
            elif uri in state["subscribed"]:
                await ctx.session.send_resource_updated(uri)
            text = f"version {state['version']}; subscribed: {sorted(state['subscribed'])}"
        elif params.name == "add":
            name = str((params.arguments or {}).get("name", "new"))
            state["added"].append(name)
            if modern:
                await bus.publish(ResourcesListChanged())
            else:
                await ctx.session.send_resource_list_changed()
            text = f"added test://added/{name}"
        else:
            return types.CallToolResult(
                content=[types.TextContent(type="text", text="unknown tool")], is_error=True
            )
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)])

    async def list_tools(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        name = {"type": "object", "properties": {"name": {"type": "string"}}}
        return types.ListToolsResult(
            tools=[
                types.Tool(
                    name="touch",
                    description="Change the watched resource.",
                    input_schema={"type": "object"},
                ),
                types.Tool(name="add", description="Add a resource.", input_schema=name),
            ]
        )

    return ResourcesServer(
        "resources",
        version="1.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_subscribe_resource=subscribe,
        on_unsubscribe_resource=unsubscribe,
        on_subscriptions_listen=ListenHandler(bus),
    )


async def _serve(tag: str) -> None:
    server = build_server(tag)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    anyio.run(_serve, f" [{args.tag}]" if args.tag else "")


if __name__ == "__main__":
    main()
