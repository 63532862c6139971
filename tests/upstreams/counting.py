"""An upstream MCP server that counts its calls, for the replica fault tests.

    python -m tests.upstreams.counting --port 8765

One tool, `count(key)`: it counts the call under `key` (a test gives every call a key of its
own, so a count above 1 is a duplicated call), notes which portal replica sent it (the
`via` query parameter of the URL the replica was configured with, `/mcp?via=r1`), waits
while the gate is closed, and answers `key`.

- `GET /admin/counts`: `{"counts": {key: n}, "via": {key: replica}, "held": {replica: n},
  "finished": n}`: calls per key, who sent each, calls waiting at the gate per replica, and
  calls answered.
- `POST /admin/gate` with `{"open": bool}`: close the gate (calls wait) or open it.
"""

from __future__ import annotations

import argparse
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import anyio
import mcp_types as types
import uvicorn
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import Server
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

TOOL = types.Tool(
    name="count",
    description="Count this call under `key` and answer `key`.",
    input_schema={
        "type": "object",
        "properties": {"key": {"type": "string"}},
        "required": ["key"],
    },
)


@dataclass
class Counts:
    counts: Counter[str] = field(default_factory=Counter)
    via: dict[str, str] = field(default_factory=dict)
    held: Counter[str] = field(default_factory=Counter)
    finished: int = 0
    closed: anyio.Event | None = None
    """While the gate is closed: the event that opening it sets."""

    def snapshot(self) -> dict[str, Any]:
        return {
            "counts": dict(self.counts),
            "via": self.via,
            "held": dict(self.held),
            "finished": self.finished,
        }


def build_app(state: Counts) -> Any:
    Ctx = ServerRequestContext[dict[str, Any], Any]

    async def list_tools(
        ctx: Ctx, params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        return types.ListToolsResult(tools=[TOOL])

    async def call_tool(ctx: Ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        key = str((params.arguments or {}).get("key"))
        via = ctx.request.query_params.get("via", "?") if isinstance(ctx.request, Request) else "?"
        state.counts[key] += 1
        state.via[key] = via
        state.held[via] += 1
        try:
            if state.closed is not None:
                await state.closed.wait()
        finally:
            state.held[via] -= 1
        state.finished += 1
        return types.CallToolResult(content=[types.TextContent(type="text", text=key)])

    server = Server("counting", version="1.0", on_list_tools=list_tools, on_call_tool=call_tool)

    async def counts(request: Request) -> Response:
        return JSONResponse(state.snapshot())

    async def gate(request: Request) -> Response:
        if (await request.json()).get("open"):
            if state.closed is not None:
                state.closed.set()
            state.closed = None
        elif state.closed is None:
            state.closed = anyio.Event()
        return JSONResponse({"open": state.closed is None})

    return server.streamable_http_app(
        custom_starlette_routes=[
            Route("/admin/counts", counts, methods=["GET"]),
            Route("/admin/gate", gate, methods=["POST"]),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(build_app(Counts()), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
