"""A misbehaving upstream MCP server for fault tests.

    python -m tests.upstreams.faulty --port 8765 [--mode MODE] [--legacy]
    python -m tests.upstreams.faulty --stdio

Every tool is named after the fault it shows when called (`ok` is the well-behaved one;
`listed` answers how many times this process ran its `tools/list` handler, over stdio too;
over HTTP, the SDK also runs it to look a tool up on every stateless `tools/call`):

- SDK-level (the `mcp` SDK's low-level server runs them): `ok` (echoes `text`), `crash` (the
  process exits while the call is in flight), `hang` (never answers), `late` (answers after
  `seconds` even if the client cancelled: a result after the caller's timeout).
- Wire-level (HTTP only; a raw ASGI layer answers the `tools/call` before the SDK sees it):
  `garbage` (a body that is not JSON), `wrong_id` (a valid response for another request id),
  `no_result` (a response with neither `result` nor `error`), `http401` / `http500` /
  `http503` (that HTTP status), `sse_cut` (an SSE response that ends in the middle of its
  result event), `flood` (`count` notifications — log, progress and tools/list_changed —
  then the result).
- stdio: `garbage` writes a line that is not JSON to the wire, then answers normally;
  `wrong_id` writes a response for another request id, then never answers; `flood` writes
  `count` notifications to the wire, then answers.

`--legacy` refuses 2026-era requests, so clients fall back to the 2025-era handshake (sessions,
a standing SSE stream).

HTTP only, a fault for every request to /mcp (so connecting and syncing fail too): `--mode`
or `POST /admin/mode` with `{"mode": M}`, M one of `none`, `http401`, `http500`, `http503`,
`garbage`, `hang`. `GET /admin/mode` tells the current mode, how many `tools/list`
requests the server answered and how many requests the mode refused; `GET /health` answers 200.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, Final

import anyio
import anyio.lowlevel
import mcp_types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from mcp.server.stdio import stdio_server
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.upstreams.demo import legacy_only

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SDK_FAULTS: Final = ("crash", "hang", "late")
WIRE_FAULTS: Final = (
    "garbage",
    "wrong_id",
    "no_result",
    "http401",
    "http500",
    "http503",
    "sse_cut",
    "flood",
)
MODES: Final = ("none", "http401", "http500", "http503", "garbage", "hang")
DEFAULT_FLOOD: Final = 3000


def _tool(name: str, description: str, properties: dict[str, Any] | None = None) -> types.Tool:
    schema: dict[str, Any] = {"type": "object", "properties": properties or {}}
    return types.Tool(name=name, description=description, input_schema=schema)


TOOLS: Final = [
    _tool("ok", "Answer `text` back.", {"text": {"type": "string"}}),
    _tool("listed", "Answer how many tools/list requests this process answered."),
    _tool("crash", "Exit the process while the call is in flight."),
    _tool("hang", "Never answer."),
    _tool("late", "Answer after `seconds`, even when cancelled.", {"seconds": {"type": "number"}}),
    *(
        _tool(name, f"Wire-level fault: {name}.", {"count": {"type": "integer"}})
        for name in WIRE_FAULTS
    ),
]


def _text(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=text)])


def _notifications(count: int) -> list[bytes]:
    kinds: list[dict[str, Any]] = [
        {"method": "notifications/message", "params": {"level": "info", "data": "spam"}},
        {"method": "notifications/progress", "params": {"progressToken": "flood", "progress": 1}},
        {"method": "notifications/tools/list_changed"},
    ]
    return [json.dumps({"jsonrpc": "2.0", **kinds[i % len(kinds)]}).encode() for i in range(count)]


@dataclass
class FaultState:
    mode: str = "none"
    tools_listed: int = 0
    refused: int = 0
    """Requests answered by the global mode's fault: how often a client came back."""


def build_server(state: FaultState, *, wire_fd: int | None = None) -> Server[dict[str, Any]]:
    """`wire_fd`: stdio only, the protocol stream, for faults the SDK would never send."""
    Ctx = ServerRequestContext[dict[str, Any], Any]

    async def list_tools(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        state.tools_listed += 1
        return types.ListToolsResult(tools=TOOLS)

    async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        args = params.arguments or {}
        name = params.name
        if name == "ok":
            return _text(f"ok: {args.get('text', '')}")
        if name == "listed":
            return _text(str(state.tools_listed))
        if name == "crash":
            os._exit(3)
        if name == "hang":
            await anyio.sleep_forever()
        if name == "late":
            seconds = float(args.get("seconds", 2))
            with anyio.CancelScope(shield=True):  # ignore the client's cancellation
                await anyio.sleep(seconds)
            return _text(f"late answer after {seconds} s")
        if wire_fd is not None and name == "garbage":
            os.write(wire_fd, b"this is not JSON-RPC {\n")
            return _text("after garbage")
        if wire_fd is not None and name == "wrong_id":
            os.write(wire_fd, _result(987654321, "for someone else") + b"\n")
            await anyio.sleep_forever()
        if wire_fd is not None and name == "flood":
            count = int(args.get("count", DEFAULT_FLOOD))
            lines = [n + b"\n" for n in _notifications(count)]
            for start in range(0, count, 100):  # in pipe-sized writes
                os.write(wire_fd, b"".join(lines[start : start + 100]))
            return _text(f"flooded {count}")
        raise ValueError(f"unknown tool {name}")

    return Server("faulty", version="1.0", on_list_tools=list_tools, on_call_tool=call_tool)


# ----- wire-level faults (HTTP) -----


def _rpc(request_id: Any, **fields: Any) -> bytes:
    return json.dumps({"jsonrpc": "2.0", "id": request_id, **fields}).encode()


def _result(request_id: Any, text: str) -> bytes:
    return _rpc(request_id, result=_text(text).model_dump(by_alias=True, mode="json"))


def _event(data: bytes) -> bytes:
    return b"event: message\ndata: " + data + b"\n\n"


def _flood_events(request_id: Any, count: int) -> AsyncIterator[bytes]:
    async def events() -> AsyncIterator[bytes]:
        for i, notification in enumerate(_notifications(count)):
            yield _event(notification)
            if i % 200 == 0:
                await anyio.lowlevel.checkpoint()  # let the server breathe
        yield _event(_result(request_id, f"flooded {count}"))

    return events()


def _status(status: int) -> Response:
    body = {"error": f"injected HTTP {status}"}
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, headers=headers)


async def _wire_fault(fault: str, message: dict[str, Any]) -> Response | None:
    """The faulty answer to a JSON-RPC message, or None to let the SDK answer it."""
    request_id = message.get("id")
    if fault in ("http401", "http500", "http503"):
        return _status(int(fault[4:]))
    if fault == "garbage":
        return Response(b"<html>502 this is not JSON", media_type="application/json")
    if fault == "hang":
        await anyio.sleep_forever()
    if fault == "wrong_id":
        return Response(_result(987654321, "for someone else"), media_type="application/json")
    if fault == "no_result":
        return Response(_rpc(request_id), media_type="application/json")
    if fault == "sse_cut":
        # One whole event, then half of the response's event, then the stream ends.
        progress = _notifications(2)[1]
        partial = (
            b'event: message\ndata: {"jsonrpc": "2.0", "id": ' + json.dumps(request_id).encode()
        )
        return Response(_event(progress) + partial, media_type="text/event-stream")
    if fault == "flood":
        count = int(message.get("params", {}).get("arguments", {}).get("count", DEFAULT_FLOOD))
        return StreamingResponse(_flood_events(request_id, count), media_type="text/event-stream")
    return None


def _fault_for(state: FaultState, message: Any) -> str | None:
    if state.mode != "none":
        return state.mode
    if isinstance(message, dict) and message.get("method") == "tools/call":
        name = message.get("params", {}).get("name")
        if name in WIRE_FAULTS:
            return str(name)
    return None


def _inject(app: ASGIApp, state: FaultState) -> ASGIApp:
    async def faulty(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/mcp"):
            await app(scope, receive, send)
            return
        if scope["method"] != "POST":
            if state.mode != "none":
                await _status(405)(scope, receive, send)  # no standing stream while faulty
                return
            await app(scope, receive, send)
            return
        body, chunks = b"", []
        while True:  # read the whole request body, then replay it to the SDK if not faulty
            chunk = await receive()
            chunks.append(chunk)
            body += chunk.get("body", b"")
            if not chunk.get("more_body"):
                break
        try:
            message = json.loads(body)
        except ValueError:
            message = None
        fault = _fault_for(state, message)
        if state.mode != "none":
            state.refused += 1
        response = await _wire_fault(fault, message) if fault else None
        if response is not None:
            await response(scope, receive, send)
            return
        replay = iter(chunks)

        async def replayed() -> Message:
            return next(replay, None) or await receive()

        await app(scope, replayed, send)

    return faulty


def build_http_app(state: FaultState, *, legacy: bool = False) -> ASGIApp:
    server = build_server(state)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def get_mode(request: Request) -> Response:
        return JSONResponse(
            {"mode": state.mode, "tools_listed": state.tools_listed, "refused": state.refused}
        )

    async def set_mode(request: Request) -> Response:
        mode = (await request.json()).get("mode")
        if mode not in MODES:
            return JSONResponse({"error": f"mode must be one of {MODES}"}, status_code=400)
        state.mode = mode
        return JSONResponse({"mode": mode})

    app = server.streamable_http_app(
        custom_starlette_routes=[
            Route("/health", health, methods=["GET"]),
            Route("/admin/mode", get_mode, methods=["GET"]),
            Route("/admin/mode", set_mode, methods=["POST"]),
        ]
    )
    faulty = _inject(app, state)
    return legacy_only(faulty) if legacy else faulty


async def _serve_stdio() -> None:
    wire_fd = os.dup(1)  # the SDK diverts fd 1 to stderr; keep a way onto the wire
    server = build_server(FaultState(), wire_fd=wire_fd)
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int)
    parser.add_argument("--stdio", action="store_true")
    parser.add_argument("--mode", choices=MODES, default="none")
    parser.add_argument("--legacy", action="store_true")
    args = parser.parse_args()
    if args.stdio:
        anyio.run(_serve_stdio)
        return
    if args.port is None:
        parser.error("--port is required unless --stdio")
    app = build_http_app(FaultState(mode=args.mode), legacy=args.legacy)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
