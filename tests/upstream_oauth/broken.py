"""Broken OAuth parts for the error tests, as a real HTTP server on 127.0.0.1.

    python -m tests.upstream_oauth.broken --port P --mode MODE [--issuer URL]

Modes:
- `no-metadata`: /mcp answers 401 (`WWW-Authenticate: Bearer`) and publishes no OAuth metadata
  anywhere (404), like a server that wants some other credential.
- `garbage-as`: /mcp answers 401 pointing at its RFC 9728 metadata, which names this same
  server as authorization server, whose RFC 8414 / OIDC metadata is not OAuth metadata.
- `dead-as`: as `garbage-as`, but the metadata names `--issuer` (a port nobody listens on).
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route


def build(port: int, mode: str, issuer: str | None) -> Starlette:
    origin = f"http://127.0.0.1:{port}"
    prm_url = f"{origin}/.well-known/oauth-protected-resource/mcp"

    async def mcp(request: Request) -> Response:
        challenge = "Bearer" if mode == "no-metadata" else f'Bearer resource_metadata="{prm_url}"'
        return PlainTextResponse("unauthorized", 401, {"WWW-Authenticate": challenge})

    async def well_known(request: Request) -> Response:
        path = request.url.path
        if mode == "no-metadata":
            return PlainTextResponse("not found", 404)
        if path.startswith("/.well-known/oauth-protected-resource"):
            auth_server = issuer if mode == "dead-as" else origin
            return JSONResponse(
                {"resource": f"{origin}/mcp", "authorization_servers": [auth_server]}
            )
        return JSONResponse({"issuer": origin, "authorization_endpoint": 42, "hello": "world"})

    return Starlette(
        routes=[
            Route("/mcp", mcp, methods=["GET", "POST", "DELETE"]),
            Route("/.well-known/{rest:path}", well_known),
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=["no-metadata", "garbage-as", "dead-as"], required=True)
    parser.add_argument("--issuer")
    args = parser.parse_args()
    app = build(args.port, args.mode, args.issuer)
    config = uvicorn.Config(app, host="127.0.0.1", port=args.port, log_level="warning")
    server = uvicorn.Server(config)
    print(f"ready http://127.0.0.1:{args.port}/mcp", flush=True)
    server.run()


if __name__ == "__main__":
    main()
