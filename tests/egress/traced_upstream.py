"""The demo upstream over streamable HTTP, appending the `traceparent` header of every request
that carries one to `$TRACEPARENT_FILE` (one per line)."""

from __future__ import annotations

import argparse
import os

import anyio
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from tests.upstreams.demo import DemoState, build_http_app


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


def recording(app: ASGIApp, path: str) -> ASGIApp:
    async def record(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            value = dict(scope["headers"]).get(b"traceparent")
            if value:
                await anyio.to_thread.run_sync(_append, path, value.decode())
        await app(scope, receive, send)

    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = build_http_app(DemoState(), token=None, legacy=False)
    app = recording(app, os.environ["TRACEPARENT_FILE"])
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
