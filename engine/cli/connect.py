"""`codemode connect URL`: connect to one OAuth-protected MCP server the way the portal
connects to an `oauth` upstream, list its tools, print them.

By default a person opens the printed authorization URL and the browser comes back to a
loopback listener (127.0.0.1, a free port); `--headless` follows the URL with an HTTP client
instead, for authorization servers that approve without a person (the conformance suite's)."""

from __future__ import annotations

import argparse
import contextlib
import html
import os
import socket
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Final

import anyio
import httpx2
import uvicorn
from anyio.streams.memory import MemoryObjectReceiveStream
from mcp.client import Client
from mcp.client.auth.oauth2 import OAuthContext
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult
from mcp_types import CallToolResult, TextContent, Tool
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from engine.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_UNAVAILABLE, CliError
from engine.upstream_oauth import (
    MemoryTokenStorage,
    OAuthClientSettings,
    UpstreamAuthError,
    callback_result,
    describe_oauth_failure,
    headless_authorize,
    make_provider,
    preregistered_client,
)
from engine.upstream_oauth import (
    origin as _origin,
)

CALLBACK_PATH: Final = "/callback"
DEFAULT_WAIT_S: Final = 300.0
_DONE_PAGE = "<!doctype html><title>codemode</title><p>Connected. You can close this window."


def add_connect_command(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", metavar="URL", help="the MCP server's streamable HTTP endpoint")
    parser.add_argument(
        "--client-id",
        metavar="ID",
        help="a client registered at the "
        "authorization server by hand (default: dynamic registration)",
    )
    parser.add_argument(
        "--client-secret-env",
        metavar="VAR",
        help="the environment variable holding that client's secret (never the secret itself)",
    )
    parser.add_argument(
        "--client-metadata-url",
        metavar="URL",
        help="an https URL of this "
        "client's metadata document, used as client id where the server "
        "supports Client ID Metadata Documents",
    )
    parser.add_argument(
        "--scope",
        metavar="S",
        help="scopes to ask for, space-separated (default: what the server advertises)",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="follow the authorization URL with an HTTP client instead of waiting for a person",
    )
    parser.add_argument(
        "--call",
        metavar="TOOL",
        help="then call TOOL without arguments and print its text (a token's scope may not "
        "cover every call: this shows a step-up)",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_S,
        metavar="SECONDS",
        help=f"how long to wait for the browser ({DEFAULT_WAIT_S:g})",
    )


def _settings(args: argparse.Namespace) -> OAuthClientSettings:
    secret = None
    if args.client_secret_env is not None:
        if args.client_id is None:
            raise CliError("--client-secret-env needs --client-id")
        secret = os.environ.get(args.client_secret_env)
        if not secret:
            raise CliError(f"environment variable {args.client_secret_env} is not set or empty")
    return OAuthClientSettings(
        client_id=args.client_id,
        client_secret=secret,
        scopes=args.scope,
        client_metadata_url=args.client_metadata_url,
    )


async def cmd_connect(args: argparse.Namespace) -> int:
    settings = _settings(args)
    try:
        tools, called = await _connect(args, settings)
    except CliError:
        raise
    except Exception as exc:
        raise _failure(exc, args.url) from None
    for tool in tools:
        summary = (tool.description or "").strip().splitlines()
        print(f"{tool.name}\t{summary[0] if summary else ''}")
    print(f"{len(tools)} tool(s) at {args.url}", file=sys.stderr)
    if called is None:
        return EXIT_OK
    text = "\n".join(c.text for c in called.content if isinstance(c, TextContent))
    print(text)
    return EXIT_FAILED if called.is_error else EXIT_OK


async def _connect(
    args: argparse.Namespace, settings: OAuthClientSettings
) -> tuple[list[Tool], CallToolResult | None]:
    storage = MemoryTokenStorage()
    async with contextlib.AsyncExitStack() as stack:
        sock = stack.enter_context(_loopback_socket())
        redirect_uri = f"http://127.0.0.1:{sock.getsockname()[1]}{CALLBACK_PATH}"
        storage.client_info = preregistered_client(redirect_uri, settings)
        http = await stack.enter_async_context(httpx2.AsyncClient(timeout=30))
        found: list[str] = []

        async def redirect(url: str) -> None:
            found.append(url)
            if not args.headless:
                print(f"Open this URL to authorize codemode:\n{url}", file=sys.stderr, flush=True)

        async def callback() -> AuthorizationCodeResult:
            if args.headless:
                return await headless_authorize(http, found[-1], redirect_uri)
            async with _listen(sock) as arrivals:
                with anyio.fail_after(args.wait):
                    arrival = await arrivals.receive()
            if isinstance(arrival, UpstreamAuthError):
                raise arrival
            return arrival

        auth = make_provider(args.url, redirect_uri, settings, storage, redirect, callback)
        mcp_http = await stack.enter_async_context(httpx2.AsyncClient(auth=auth, timeout=30))
        try:
            async with Client(streamable_http_client(args.url, http_client=mcp_http)) as client:
                tools = (await client.list_tools()).tools
                if args.call is None:
                    return tools, None
                if args.call not in {tool.name for tool in tools}:
                    raise CliError(f"{args.url} has no tool {args.call!r}", EXIT_FAILED)
                return tools, await client.call_tool(args.call, {})
        except Exception as exc:
            missing = _missing_metadata(auth.context, args.url)
            oauth_failed = any(describe_oauth_failure(e) for e in _leaves(exc))
            if missing is not None and oauth_failed:
                raise missing from None
            raise


def _missing_metadata(ctx: OAuthContext, url: str) -> UpstreamAuthError | None:
    """Why the flow had nothing to go on, when discovery found no metadata: the SDK then
    falls back to guessed endpoints (2025-03-26), whose failure says less than this."""
    if ctx.oauth_metadata is not None:
        return None
    if ctx.protected_resource_metadata is None:
        return UpstreamAuthError(
            f"{url} asks for authorization (HTTP 401) but publishes no OAuth metadata (RFC 9728 "
            "protected-resource or RFC 8414 authorization-server) and has no working default "
            "endpoints: it may want another kind of credential, such as a bearer token"
        )
    return UpstreamAuthError(
        f"the authorization server {ctx.auth_server_url} publishes no valid OAuth metadata "
        "(RFC 8414 /.well-known/oauth-authorization-server or OpenID Connect discovery)"
    )


@contextlib.contextmanager
def _loopback_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        yield sock
    finally:
        sock.close()


Arrival = AuthorizationCodeResult | UpstreamAuthError


@contextlib.asynccontextmanager
async def _listen(sock: socket.socket) -> AsyncIterator[MemoryObjectReceiveStream[Arrival]]:
    """Serve the loopback callback on `sock` while the caller waits for what arrives: the
    code, or the authorization server's refusal (`error=access_denied`: the person said no)."""
    send, receive = anyio.create_memory_object_stream[Arrival](1)

    async def on_callback(request: Request) -> HTMLResponse:
        try:
            arrival: Arrival = callback_result(str(request.url))
        except UpstreamAuthError as exc:
            arrival = exc
        with contextlib.suppress(anyio.WouldBlock):  # a second visit: the first one counts
            send.send_nowait(arrival)
        if isinstance(arrival, UpstreamAuthError):
            return HTMLResponse(f"<p>Not connected: {html.escape(str(arrival))}", 400)
        return HTMLResponse(_DONE_PAGE)

    app = Starlette(routes=[Route(CALLBACK_PATH, on_callback)])
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve, [sock])
        try:
            yield receive
        finally:
            server.should_exit = True


def _failure(exc: BaseException, url: str) -> CliError:
    """A failed connection as one line and an exit code."""
    for inner in _leaves(exc):
        described = describe_oauth_failure(inner)
        if described is not None:
            return CliError(str(described), EXIT_FAILED)
        if isinstance(inner, TimeoutError):
            return CliError("nobody completed the authorization in time (--wait)", EXIT_FAILED)
        if isinstance(inner, httpx2.TransportError):
            where = _origin(str(inner.request.url))
            role = "the MCP server" if _origin(url) == where else "the authorization server"
            return CliError(
                f"cannot reach {role} at {where}: {type(inner).__name__}", EXIT_UNAVAILABLE
            )
    text = str(exc) or type(exc).__name__
    return CliError(f"connecting to {url} failed: {text}", EXIT_FAILED)


def _leaves(exc: BaseException) -> list[BaseException]:
    """`exc` and its causes, with exception groups opened (task groups wrap failures)."""
    found: list[BaseException] = []
    stack = [exc]
    while stack:
        current = stack.pop()
        if isinstance(current, BaseExceptionGroup):
            stack.extend(current.exceptions)
            continue
        found.append(current)
        if current.__cause__ is not None:
            stack.append(current.__cause__)
        elif current.__context__ is not None and not current.__suppress_context__:
            stack.append(current.__context__)
    return found
