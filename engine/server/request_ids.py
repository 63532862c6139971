"""A POSTed JSON-RPC message whose `id` is not a string or an integer is refused (400, -32600).

The mcp SDK (2.3) validates a message as request | notification | response | error. A
request with `"id": null` (or an object, a list, a boolean, 1.5, even 1.0) fails as a
request and then passes as a notification, whose model ignores extra keys: the client gets
202 Accepted and never an answer. MCP requires request ids to be strings or integers, so
such a message is answered here, naming the problem, before the SDK sees it.
"""

from __future__ import annotations

import json
from typing import Any, Final

import pydantic_core
from mcp.server.transport_security import RequestBodyLimitMiddleware
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

INVALID_REQUEST: Final = -32600


class RequestIdCheck:
    """ASGI wrapper around a streamable-HTTP handler; bodies over `max_body_bytes` are left
    to the 413 of the SDK's own limit (this reads no more than that)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self._buffered = RequestBodyLimitMiddleware(self._check, max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        await self._buffered(scope, receive, send)

    async def _check(self, scope: Scope, receive: Receive, send: Send) -> None:
        # The limit middleware hands over the whole body as its first message.
        first = await receive()
        whole = first["type"] == "http.request" and not first.get("more_body", False)
        problem = id_problem(first.get("body", b"")) if whole else None
        if problem is not None:
            error = {"code": INVALID_REQUEST, "message": f"Invalid request: {problem}"}
            answer = JSONResponse({"jsonrpc": "2.0", "id": None, "error": error}, status_code=400)
            await answer(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return first
            return await receive()

        await self.app(scope, replay, send)


def id_problem(body: bytes) -> str | None:
    """What is wrong with the id of the request in `body`, or None (also when `body` is not a
    single request at all: the SDK answers that itself)."""
    try:
        message: Any = pydantic_core.from_json(body)
    except ValueError:
        return None
    if not isinstance(message, dict) or "id" not in message or "method" not in message:
        return None
    request_id = message["id"]
    if _valid_id(request_id):
        return None
    shown = json.dumps(request_id)
    shown = shown if len(shown) <= 40 else shown[:40] + "..."
    return f"the request id {shown} must be a string or an integer"


def _valid_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)
