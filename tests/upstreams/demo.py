"""A small upstream MCP server for tests, built on the `mcp` SDK's low-level server.

    python -m tests.upstreams.demo --port 8765 [--token SECRET] [--legacy]
    python -m tests.upstreams.demo --stdio

Tools: `tool_00`..`tool_24` (filler, so listings paginate: 10 tools per page), `echo`, `fail`
(returns `isError`), `slow` (sleeps `seconds`), `mutate` (adds a tool or prompt at run time and
announces it with list_changed), `stats` (counters of `slow` calls, to observe cancellation,
and of `echo` calls),
`crash` (the process exits at once). Prompts `greet` and `review`, one per page.

HTTP only: `--token` demands `Authorization: Bearer <token>` on /mcp (401 otherwise);
`--legacy` refuses 2026-era requests so clients fall back to the initialize handshake and get
an `Mcp-Session-Id`; `POST /admin/forget-sessions` drops every session so the next request
with an old session id gets 404, as after an upstream restart; `GET /health` answers 200.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.models import InitializationOptions
from mcp.server.stdio import stdio_server
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    PromptsListChanged,
    ToolsListChanged,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

TOOL_PAGE_SIZE = 10
FILLER_TOOLS = 25

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def _tool(name: str, description: str, properties: dict[str, Any] | None = None) -> types.Tool:
    schema: dict[str, Any] = {"type": "object", "properties": properties or {}}
    return types.Tool(name=name, description=description, input_schema=schema)


def _text(text: str, *, error: bool = False) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=error)


@dataclass
class DemoState:
    tools: list[types.Tool] = field(default_factory=list)
    prompts: list[types.Prompt] = field(default_factory=list)
    counters: dict[str, int] = field(
        default_factory=lambda: {
            "slow_started": 0,
            "slow_finished": 0,
            "slow_cancelled": 0,
            "echo_calls": 0,
        }
    )
    bus: InMemorySubscriptionBus = field(default_factory=InMemorySubscriptionBus)
    cursor_loop: bool = False
    """A broken server: every tools/list page says the next page is the first one again."""

    def __post_init__(self) -> None:
        self.tools = [
            _tool(f"tool_{i:02d}", f"Filler tool number {i}.") for i in range(FILLER_TOOLS)
        ]
        self.tools += [
            _tool("echo", "Echo the arguments back as JSON.", {"value": {}}),
            _tool("fail", "Always fails with isError.", {"reason": {"type": "string"}}),
            _tool("slow", "Sleep, then answer.", {"seconds": {"type": "number"}}),
            _tool(
                "mutate",
                "Add a tool or prompt named `name`; announce it unless notify is false.",
                {
                    "kind": {"enum": ["tool", "prompt"]},
                    "name": {"type": "string"},
                    "notify": {"type": "boolean"},
                },
            ),
            _tool("stats", "Counters of slow calls."),
            _tool("crash", "Exit the server process at once."),
        ]
        self.prompts = [
            types.Prompt(
                name="greet",
                description="Greet someone.",
                arguments=[types.PromptArgument(name="name", required=True)],
            ),
            types.Prompt(name="review", description="Review code."),
        ]


def _page(
    items: list[Any], params: types.PaginatedRequestParams | None, size: int
) -> tuple[list[Any], str | None]:
    start = int(params.cursor) if params and params.cursor else 0
    end = start + size
    return items[start:end], (str(end) if end < len(items) else None)


class DemoServer(Server[dict[str, Any]]):
    """Advertises listChanged to 2025-era clients too (the SDK's default leaves it off)."""

    def create_initialization_options(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
    ) -> InitializationOptions:
        return super().create_initialization_options(
            NotificationOptions(tools_changed=True, prompts_changed=True),
            experimental_capabilities,
            extensions,
        )


def build_server(state: DemoState) -> DemoServer:
    Ctx = ServerRequestContext[dict[str, Any], Any]

    async def list_tools(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        page, cursor = _page(state.tools, params, TOOL_PAGE_SIZE)
        if state.cursor_loop:
            cursor = "0"
        return types.ListToolsResult(tools=page, next_cursor=cursor)

    async def list_prompts(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListPromptsResult:
        page, cursor = _page(state.prompts, params, 1)
        return types.ListPromptsResult(prompts=page, next_cursor=cursor)

    async def get_prompt(ctx: Ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        if params.name not in {p.name for p in state.prompts}:
            raise ValueError(f"unknown prompt {params.name}")
        who = (params.arguments or {}).get("name", "world")
        message = types.PromptMessage(
            role="user", content=types.TextContent(type="text", text=f"{params.name}: hello {who}")
        )
        return types.GetPromptResult(description=params.name, messages=[message])

    async def announce(ctx: Ctx, kind: str) -> None:
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            await state.bus.publish(ToolsListChanged() if kind == "tool" else PromptsListChanged())
        elif kind == "tool":
            await ctx.session.send_tool_list_changed()
        else:
            await ctx.session.send_prompt_list_changed()

    async def slow(seconds: float) -> types.CallToolResult:
        state.counters["slow_started"] += 1
        try:
            await anyio.sleep(seconds)
        except anyio.get_cancelled_exc_class():
            state.counters["slow_cancelled"] += 1
            raise
        state.counters["slow_finished"] += 1
        return _text(f"slept {seconds} s")

    async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        args = params.arguments or {}
        name = params.name
        if name.startswith("tool_") or name.startswith("added_"):
            return _text(f"{name} ok")
        if name == "echo":
            state.counters["echo_calls"] += 1
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=json.dumps(args))],
                structured_content=args,
            )
        if name == "fail":
            return _text(f"failed on purpose: {args.get('reason', 'no reason')}", error=True)
        if name == "slow":
            return await slow(float(args.get("seconds", 1)))
        if name == "stats":
            return _text(json.dumps(state.counters))
        if name == "crash":
            os._exit(3)
        if name == "mutate":
            kind, new = str(args.get("kind", "tool")), str(args["name"])
            if kind == "tool":
                state.tools.append(_tool(new, "Added at run time."))
            else:
                state.prompts.append(types.Prompt(name=new, description="Added at run time."))
            if args.get("notify", True):
                await announce(ctx, kind)
            return _text(f"added {kind} {new}")
        return _text(f"unknown tool {name}", error=True)

    return DemoServer(
        "demo",
        version="1.0",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_subscriptions_listen=ListenHandler(state.bus),
    )


def _require_bearer(app: ASGIApp, token: str) -> ASGIApp:
    expected = f"Bearer {token}".encode()

    async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"].startswith("/mcp")
            and dict(scope["headers"]).get(b"authorization") != expected
        ):
            response = JSONResponse(
                {"error": "unauthorized"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    return guarded


def legacy_only(app: ASGIApp) -> ASGIApp:
    """Refuse 2026-era requests the way a 2025-era server does: method not found."""

    async def gate(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            version = dict(scope["headers"]).get(b"mcp-protocol-version", b"").decode()
            if version and version not in HANDSHAKE_PROTOCOL_VERSIONS:
                error = {
                    "jsonrpc": "2.0",
                    "id": None,
                    "error": {"code": -32601, "message": "Method not found"},
                }
                await JSONResponse(error, status_code=400)(scope, receive, send)
                return
        await app(scope, receive, send)

    return gate


def build_http_app(state: DemoState, *, token: str | None, legacy: bool) -> ASGIApp:
    server = build_server(state)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def forget_sessions(request: Request) -> Response:
        manager = server.session_manager
        # Test-only reach into the manager: the sessions stay alive server-side, but their ids
        # are unknown from now on, exactly what a client sees after an upstream restart.
        forgotten = len(manager._server_instances)
        manager._server_instances.clear()
        return JSONResponse({"forgotten": forgotten})

    app: ASGIApp = server.streamable_http_app(
        custom_starlette_routes=[
            Route("/health", health, methods=["GET"]),
            Route("/admin/forget-sessions", forget_sessions, methods=["POST"]),
        ]
    )
    if legacy:
        app = legacy_only(app)
    if token:
        app = _require_bearer(app, token)
    return app


async def _serve_stdio(state: DemoState) -> None:
    server = build_server(state)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int)
    parser.add_argument("--stdio", action="store_true")
    parser.add_argument("--token", default=os.environ.get("DEMO_TOKEN"))
    parser.add_argument("--legacy", action="store_true")
    parser.add_argument(
        "--cursor-loop", action="store_true", help="tools/list always points back at page one"
    )
    parser.add_argument("--tag", help="ignored; lets tests find this process by its command line")
    args = parser.parse_args()
    state = DemoState(cursor_loop=args.cursor_loop)
    if args.stdio:
        anyio.run(_serve_stdio, state)
        return
    if args.port is None:
        parser.error("--port is required unless --stdio")
    app = build_http_app(state, token=args.token, legacy=args.legacy)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
