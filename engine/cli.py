"""`codemode`: serve portals, show what clients see, run code, check configs.

    codemode serve [--config PATH] [--host 127.0.0.1] [--port 8787] [--public-host NAME]
                   [--grace SECONDS]
    codemode serve --stdio [--config PATH] [--surface S] [--portal ID]
    codemode tools [--config PATH] [--portal ID] [--surface S] [--json]
    codemode run [--config PATH] [--portal ID] [--surface codemode|search_and_execute] CODE|-
    codemode status [--config PATH] [--json]
    codemode status --url http://127.0.0.1:8787 [--json]    (admin token in CODEMODE_ADMIN_TOKEN)
    codemode check-config PATH

Without `--config`, `serve`, `tools`, `run` and `status` use the built-in demo portal
(`engine.demo`: mcp-server-time, mcp-server-git on a throwaway repository, a notes server).
Commands that connect print progress to stderr while the upstream servers connect.
`status` starts its own connections to the config's upstream servers; with `--url` it asks a
running `serve` instead (its admin API, `GET /api/portals`, with the token from
CODEMODE_ADMIN_TOKEN). Either way its first stderr line says which it reports.

Exit codes:
    0    success
    1    the run or the tool call failed (`run`), `status --url` could not get an answer from
         the portal, or an unexpected error
    2    bad usage or a bad config (every problem is printed with its key); `status --url`
         without CODEMODE_ADMIN_TOKEN, or the portal refused it (wrong token, admin API off)
    3    upstream servers unavailable (`status` with a server in Error)
    130  interrupted (Ctrl-C); `serve` stopped by SIGTERM exits 0
"""

# ruff: noqa: E402  (the imports after the Ctrl-C guard below)
from __future__ import annotations

import os
import signal
import sys
from types import FrameType


def _interrupted_while_importing(signum: int, frame: FrameType | None) -> None:
    # Nothing has started yet: no upstream process, no temporary file. Say so and go.
    os.write(2, b"codemode: interrupted\n")
    os._exit(130)


# Loading the engine takes a second or more. Run as the program (`python -m engine.cli`, the
# `codemode` script), Ctrl-C meanwhile exits 130 quietly instead of a KeyboardInterrupt
# traceback from some import; `main` installs the real handler first thing.
if __name__ == "__main__" or os.path.basename((sys.argv or [""])[0]) == "codemode":
    signal.signal(signal.SIGINT, _interrupted_while_importing)

import argparse
import asyncio
import atexit
import contextlib
import functools
import importlib.metadata
import ipaddress
import json
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import anyio
import httpx2
import uvicorn
from mcp_types import CallToolResult, TextContent, Tool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine import results
from engine.config import Config, ConfigError
from engine.demo import demo_config
from engine.environment import environment_problems
from engine.gateway import Gateway
from engine.portal import Portal
from engine.server.admin import ADMIN_TOKEN_ENV
from engine.status import ServerState, ServerStatus
from engine.surfaces import Surface
from engine.upstream import STARTUP_STATUS
from stubs import count_tokens

log = logging.getLogger("codemode.cli")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130

DEFAULT_GRACE_S = 20.0
"""How long `serve` lets requests in flight finish after SIGTERM / Ctrl-C before cutting them:
long enough for most code runs, short enough for a supervisor's stop timeout (systemd 90 s,
Kubernetes 30 s)."""

_EPILOG = """\
exit codes: 0 success; 1 the run or tool call failed; 2 bad usage or bad config;
3 upstream servers unavailable (status with a server in Error); 130 interrupted (Ctrl-C).
Without --config, serve/tools/run/status use the built-in demo portal.
Set CODEMODE_ADMIN_TOKEN to enable the admin API of `serve` (and for `status --url`)."""

_CODE_TOOLS = {Surface.CODEMODE: "code", Surface.SEARCH_AND_EXECUTE: "execute"}


class CliError(Exception):
    """A failure reported as one line and an exit code, never a traceback."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codemode",
        description="Self-hosted MCP server portal with a code-mode sandbox.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging (with tracebacks) to stderr"
    )
    try:
        version = importlib.metadata.version("codemode-engine")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout, not installed
        version = "unknown (not installed)"
    parser.add_argument("--version", action="version", version=f"codemode {version}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(
            name,
            help=help,
            description=help,
            epilog=_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
        return sub

    serve = command("serve", "serve the portals over HTTP (or one portal over stdio)")
    _config_option(serve)
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8787, help="port to listen on (8787)")
    serve.add_argument(
        "--public-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also accept requests whose Host is NAME or NAME:PORT (e.g. behind a proxy); "
        "repeatable. Others are refused (DNS-rebinding protection)",
    )
    serve.add_argument(
        "--grace",
        type=_grace,
        default=DEFAULT_GRACE_S,
        metavar="SECONDS",
        help=f"on SIGTERM or Ctrl-C, stop accepting connections, end open notification "
        f"streams and let requests in flight (code runs) finish for up to SECONDS, then cut "
        f"them ({DEFAULT_GRACE_S:g}); a second Ctrl-C cuts them at once",
    )
    serve.add_argument("--stdio", action="store_true", help="serve one portal over stdin/stdout")
    _surface_option(serve, list(Surface), Surface.ALL, "surface of --stdio (all)")
    _portal_option(serve)

    tools = command("tools", "list the tools a client sees, with token counts per surface")
    _config_option(tools)
    _portal_option(tools)
    _surface_option(tools, list(Surface), None, "list this surface's tools (default: a table)")
    tools.add_argument("--json", action="store_true", help="print JSON")

    run = command("run", "run JavaScript against the portal; print result, logs and errors")
    _config_option(run)
    _portal_option(run)
    _surface_option(run, list(_CODE_TOOLS), Surface.CODEMODE, "code or execute tool (codemode)")
    run.add_argument("code", metavar="CODE", help="the code to run, or - to read it from stdin")

    status = command(
        "status",
        "show each upstream server's state: from fresh connections to the config's servers, "
        "or (--url) as a running serve sees them",
    )
    _config_option(status)
    status.add_argument(
        "--url",
        metavar="URL",
        help="ask the running `codemode serve` at URL (e.g. http://127.0.0.1:8787) through its "
        "admin API, with the token in the environment variable CODEMODE_ADMIN_TOKEN",
    )
    status.add_argument("--json", action="store_true", help="print JSON")

    check = command(
        "check-config",
        "validate a config file; every problem names its key. Also checks what it refers to "
        "here (commands on PATH, variables, files): what is missing may exist at run time, so "
        "it is a warning, and warnings alone exit 0",
    )
    check.add_argument("path", metavar="PATH")
    return parser


def _grace(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"--grace takes a number of seconds >= 0, not {text!r}")
    return seconds


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", metavar="PATH", help="config file (TOML); default: the built-in demo"
    )


def _portal_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--portal", metavar="ID", help="portal id (needed if there are several)")


def _surface_option(
    parser: argparse.ArgumentParser, choices: list[Surface], default: Surface | None, help: str
) -> None:
    names = [c.value for c in choices]

    def parse(text: str) -> Surface:
        if text not in names:
            raise argparse.ArgumentTypeError(
                f"unknown surface {text!r}; choose from {', '.join(names)}"
            )
        return Surface(text)

    parser.add_argument(
        "--surface", type=parse, default=default, metavar="{" + ",".join(names) + "}", help=help
    )


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit code; called as the program (`argv` None), exit.

    The CLI handles SIGINT/SIGTERM from here on (see `_Stop`). As the program it keeps that
    handler to the end and leaves by `_exit`, so a Ctrl-C during the interpreter's teardown
    neither kills it by signal nor prints a traceback; called with `argv` (tests), the previous
    handlers come back when it returns."""
    stop = _Stop()
    with stop.installed(restore=argv is not None):
        code = _main(argv, stop)
        if argv is None:
            _exit(code)
    return code


def _exit(code: int) -> None:
    """End the process now: atexit handlers and a flush, then no interpreter teardown.

    Everything the commands open is closed when they return (upstream processes reaped, the
    request log flushed). The teardown after that only frees memory, yet takes a second or more,
    and once it has reset the signal handlers a Ctrl-C kills the process (exit -2)."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to tell
            stream.flush()
    os._exit(code)


def _main(argv: Sequence[str] | None, stop: _Stop) -> int:
    args = None
    try:
        args = build_parser().parse_args(argv)
        verbose: bool = getattr(args, "verbose", False)
        _setup_logging(verbose, args.command)
        if args.command == "check-config":
            return check_config(args.path, sys.stdout)
        if args.command == "status" and args.url is not None:
            if args.config is not None:
                raise CliError("status takes --config or --url, not both")
            code = _run_async(functools.partial(status_of_running_portal, args), stop)
        else:
            config = load_config(args.config, command=args.command)
            run = functools.partial(_COMMANDS[args.command], config, args, stop)
            code = _run_async(run, stop)
        return stop.exit_code(args.command, code)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"codemode: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        if stop.signal is None:  # not from a signal: someone raised it
            stop.signal, stop.interrupted = signal.SIGINT, True
        command = args.command if args is not None else ""
        return stop.exit_code(command, EXIT_INTERRUPTED)
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        hint = "" if getattr(args, "verbose", False) else " (run with -v for details)"
        print(f"codemode: error: {_describe(exc)}{hint}", file=sys.stderr)
        return EXIT_FAILED


def _setup_logging(verbose: bool, command: str) -> None:
    # One-shot commands report upstream trouble in their own output; a server logs it.
    quiet = logging.WARNING if command == "serve" else logging.ERROR
    logging.basicConfig(
        level=logging.DEBUG if verbose else quiet,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Every command prints each server's start-up status once (`connected`): the upstream's
    # log record of the same failure would say it a second time.
    for handler in logging.getLogger().handlers:
        handler.addFilter(lambda record: not getattr(record, STARTUP_STATUS, False))


def _describe(exc: BaseException) -> str:
    exc = _unwrap(exc)
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _unwrap(exc: BaseException) -> BaseException:
    """The one exception inside nested single-member exception groups (from task groups)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


_READ_ONLY_COMMANDS = frozenset({"status", "tools"})
"""Commands that only look: they keep the request log in memory and create no files."""


def load_config(path: str | None, command: str | None = None) -> Config:
    config = demo_config() if path is None else Config.load(path)
    if command not in _READ_ONLY_COMMANDS:
        return config
    quiet = config.settings.model_copy(
        update={"request_log_path": None, "request_log_jsonl_path": None}
    )
    return config.model_copy(update={"settings": quiet})


# --------------------------------------------------------------------------- signals


@dataclass
class _Stop:
    """Ctrl-C / SIGINT and SIGTERM for the whole life of `main`: the first one asks the command
    to stop, wherever start-up or shutdown is.

    `handle` is the process's handler from the first line of `main` to its end. Before the event
    loop runs it raises KeyboardInterrupt (nothing is running that needs closing); while the loop
    runs it only schedules `_deliver` on the loop, so no exception is ever raised inside asyncio
    or a cleanup; once the command has cleaned up it only notes the signal. Every signal is
    noted at once, so one that comes too late to be delivered still sets the exit code."""

    signal: int | None = None
    scope: anyio.CancelScope | None = None
    """Around the command, once the loop runs."""
    on_signal: Callable[[int], None] | None = None
    """Set by `serve` to stop uvicorn gracefully instead of cancelling."""
    loop: asyncio.AbstractEventLoop | None = None
    done: bool = False
    interrupted: bool = False
    """A SIGINT came (first or not): the exit is 130 even if SIGTERM began the stop."""

    def handle(self, signum: int, frame: FrameType | None) -> None:
        first = self.signal is None
        if first:
            self.signal = signum
        self.interrupted = self.interrupted or signum == signal.SIGINT
        loop = self.loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed as the signal came
                loop.call_soon_threadsafe(self._deliver, signum, first)
        elif not self.done:
            raise KeyboardInterrupt

    def _deliver(self, signum: int, first: bool) -> None:
        if self.on_signal is not None:
            self.on_signal(signum)
        elif first and self.scope is not None:
            self.scope.cancel()

    @contextlib.contextmanager
    def installed(self, restore: bool) -> Generator[None, None, None]:
        previous = {sig: signal.signal(sig, self.handle) for sig in _STOP_SIGNALS}
        try:
            yield
        finally:
            self.done = True
            if restore:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    def exit_code(self, command: str, code: int) -> int:
        if self.signal is None:
            return code
        if command == "serve" and not self.interrupted:
            return EXIT_OK  # stopped by SIGTERM, as a supervisor does
        print("codemode: interrupted", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

Command = Callable[[Config, argparse.Namespace, _Stop], Awaitable[int]]


def _run_async(command: Callable[[], Awaitable[int]], stop: _Stop) -> int:
    try:
        return anyio.run(_supervised, command, stop)
    except BaseExceptionGroup as group:
        raise _unwrap(group) from None


async def _supervised(command: Callable[[], Awaitable[int]], stop: _Stop) -> int:
    stop.scope = anyio.CancelScope()
    stop.loop = asyncio.get_running_loop()
    try:
        if stop.signal is not None:  # came while the loop started: nothing to cancel yet
            return EXIT_INTERRUPTED
        with stop.scope:
            return await command()
        return EXIT_INTERRUPTED
    finally:
        stop.done = True
        stop.loop = None


# --------------------------------------------------------------------------- connecting


@contextlib.asynccontextmanager
async def connected(config: Config, out: TextIO) -> AsyncIterator[Gateway]:
    """Enter a Gateway, printing progress to `out` as each upstream settles."""
    gateway = Gateway(config)
    printed: set[str] = set()
    total = len(config.servers)

    def report(server_id: str) -> None:
        status = gateway.catalog.status().get(server_id)
        if status is None or status.state is ServerState.WAITING or server_id in printed:
            return
        printed.add(server_id)
        print(f"  {server_id}: {_status_line(status)}", file=out, flush=True)

    noun = "server" if total == 1 else "servers"
    print(f"connecting {total} upstream {noun} ...", file=out, flush=True)
    gateway.catalog.on_change(report)
    async with gateway:
        for server_id in gateway.catalog.server_ids:
            if server_id not in printed:
                status = gateway.catalog.status()[server_id]
                printed.add(server_id)
                print(f"  {server_id}: {_status_line(status)}", file=out, flush=True)
        yield gateway


def _status_line(status: ServerStatus) -> str:
    if status.state is ServerState.ERROR and status.error_details is not None:
        return f"Error: {status.error_details.cause}"
    if status.state is ServerState.READY:
        return (
            f"Ready ({_count(status.tool_count, 'tool')}, {_count(status.prompt_count, 'prompt')})"
        )
    return status.state.value


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def portal_id(config: Config, wanted: str | None) -> str:
    """The portal a command acts on: `wanted`, or the config's only portal."""
    ids = [p.id for p in config.portals]
    if wanted is not None:
        if wanted not in ids:
            raise CliError(f"no portal {wanted!r} in the config (portals: {', '.join(ids)})")
        return wanted
    if len(ids) == 1:
        return ids[0]
    if not ids:
        raise CliError("the config has no [[portals]]; add one to serve its servers")
    raise CliError(f"the config has {len(ids)} portals ({', '.join(ids)}); choose with --portal")


# --------------------------------------------------------------------------- serve


async def cmd_serve(config: Config, args: argparse.Namespace, stop: _Stop) -> int:
    if args.stdio:
        return await _serve_stdio(config, args)
    return await _serve_http(config, args, stop)


async def _serve_stdio(config: Config, args: argparse.Namespace) -> int:
    from engine.server.stdio import serve_stdio

    pid = portal_id(config, args.portal)
    async with connected(config, sys.stderr) as gateway:
        print(f"serving portal {pid!r} ({args.surface.value}) on stdio", file=sys.stderr)
        await serve_stdio(gateway.portal(pid), args.surface)
    return EXIT_OK


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, announce: Sequence[str]) -> None:
        super().__init__(config)
        self.announce = announce

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # Said only when the server really serves: a stop that came during start-up skips it.
        if self.started and not self.should_exit:
            for line in self.announce:
                print(line, flush=True)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The CLI owns SIGINT/SIGTERM: it stops uvicorn, then closes the gateway, which reaps
        # the upstream child processes. uvicorn's own capture re-raises the signal afterwards.
        yield


class _Streams:
    """ASGI wrapper that ends standing GET streams on `/mcp` when shutdown starts.

    A 2025-era client keeps a GET open for server-to-client notifications; it never ends on
    its own, so it would hold the drain of real requests for the whole grace period. Clients
    treat its end as a reconnect hint, and there is nothing left to reconnect to."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.scopes: set[anyio.CancelScope] = set()
        self.closing = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"][-4:] != "/mcp":
            await self.app(scope, receive, send)
            return
        started = finished = False

        async def tracked(message: Message) -> None:
            nonlocal started, finished
            started = started or message["type"] == "http.response.start"
            body = message["type"] == "http.response.body"
            finished = finished or (body and not message.get("more_body", False))
            await send(message)

        with anyio.CancelScope() as cancel:
            self.scopes.add(cancel)
            if self.closing:
                cancel.cancel()
            try:
                await self.app(scope, receive, tracked)
            finally:
                self.scopes.discard(cancel)
        if not cancel.cancelled_caught:
            return
        if not started:
            await send({"type": "http.response.start", "status": 503, "headers": []})
        if not finished:
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    def close(self) -> None:
        self.closing = True
        for scope in list(self.scopes):
            scope.cancel()


async def _serve_http(config: Config, args: argparse.Namespace, stop: _Stop) -> int:
    from engine.server.app import create_app

    if args.portal is not None or not config.portals:
        portal_id(config, args.portal)  # serves every portal; check the id, or that there is one
    sock = listen(args.host, args.port)
    if not _is_loopback(args.host):
        print(
            f"warning: listening on {args.host}, reachable from other machines as you chose; "
            "protect portals with api_keys. Requests must name localhost, a portal hostname "
            "or a --public-host in their Host header",
            file=sys.stderr,
        )
    with sock:
        async with connected(config, sys.stderr) as gateway:
            app = _Streams(
                create_app(
                    gateway,
                    admin_token=os.environ.get("CODEMODE_ADMIN_TOKEN"),
                    public_hosts=args.public_host,
                )
            )
            verbose = getattr(args, "verbose", False)
            server = _Server(
                uvicorn.Config(
                    app,
                    log_level="debug" if verbose else "warning",
                    access_log=verbose,
                    lifespan="on",
                    # Drain requests in flight; whatever still runs after this is cut.
                    timeout_graceful_shutdown=args.grace,
                ),
                # Read the address now: uvicorn closes the socket as soon as it stops.
                announce=portal_urls(gateway, sock),
            )

            def on_signal(signum: int) -> None:
                _stop_server(server, signum)
                app.close()

            stop.on_signal = on_signal
            # A stop noted while connecting skips uvicorn: started and then cancelled, it would
            # leave its lifespan task running past the gateway.
            if stop.signal is None:
                try:
                    await server.serve(sockets=[sock])
                except SystemExit:  # uvicorn exits when the app's lifespan startup fails
                    raise CliError(
                        "the HTTP app failed to start (see above)", EXIT_FAILED
                    ) from None
            print("stopping: closing upstream connections ...", file=sys.stderr, flush=True)
    if not server.started and stop.signal is None:
        raise CliError("the HTTP server did not start (see the log above)", EXIT_FAILED)
    return EXIT_OK


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: may resolve anywhere


def _stop_server(server: uvicorn.Server, signum: int) -> None:
    if server.should_exit and signum == signal.SIGINT:
        server.force_exit = True  # a second Ctrl-C: stop waiting for open connections
    server.should_exit = True


def listen(host: str, port: int) -> socket.socket:
    """Bind the listening socket up front so a busy port is one clear error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        # Name the protocol: asyncio sets TCP_NODELAY only on sockets whose `proto` says TCP, and
        # `socket.create_server` leaves it 0, which costs every response ~40 ms (Nagle + ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(address[:2] if family == socket.AF_INET else address)
            sock.listen(2048)
        except OSError:
            sock.close()
            raise
        return sock
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CliError(f"cannot listen on {host}:{port}: {reason}") from None


def portal_urls(gateway: Gateway, sock: socket.socket) -> list[str]:
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    lines = [f"codemode is serving on {base}/ (Ctrl-C to stop)"]
    single = len(gateway.portals) == 1
    for portal in gateway.portals.values():
        # Plain /mcp on localhost serves the only portal; /p/<id>/mcp names one of several.
        url = f"{base}/mcp" if single else f"{base}/p/{portal.id}/mcp"
        name = portal.config.name or portal.id
        lines.append(f"portal {portal.id} ({name}): {url}")
        lines.append(f"  code mode: {url}?codemode=search_and_execute")
        if portal.config.hostname:
            lines.append(f"  also on: http://{portal.config.hostname}/mcp")
    return lines


# --------------------------------------------------------------------------- tools


def tools_list_json(tools: Sequence[Tool]) -> str:
    """The tools/list result as a client receives it (the SDK serialises compactly)."""
    payload = {
        "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]
    }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def surface_report(portal: Portal, surface: Surface) -> dict[str, Any]:
    tools = portal.list_tools(surface)
    return {
        "tool_count": len(tools),
        "tokens": count_tokens(tools_list_json(tools)),
        "tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools],
    }


async def cmd_tools(config: Config, args: argparse.Namespace, stop: _Stop) -> int:
    pid = portal_id(config, args.portal)
    async with connected(config, sys.stderr) as gateway:
        portal = gateway.portal(pid)
        chosen = [args.surface] if args.surface is not None else list(Surface)
        reports = {s.value: surface_report(portal, s) for s in chosen}
        unavailable = _unavailable(portal.status())
    if args.json:
        print(json.dumps({"portal": pid, "surfaces": reports}, indent=2))
    elif args.surface is not None:
        _print_tool_list(reports[args.surface.value])
    else:
        _print_surface_table(pid, reports)
    for server_id, cause in unavailable.items():
        print(
            f"warning: {server_id} is unavailable, its tools are missing: {cause}", file=sys.stderr
        )
    return EXIT_OK


def _print_surface_table(pid: str, reports: dict[str, dict[str, Any]]) -> None:
    print(f"portal {pid}: what a client sees on each surface (tokens: cl100k_base)")
    print(f"{'surface':<20} {'tools':>6} {'tokens':>8}")
    for surface, report in reports.items():
        print(f"{surface:<20} {report['tool_count']:>6} {report['tokens']:>8,}")


def _print_tool_list(report: dict[str, Any]) -> None:
    tools: list[dict[str, Any]] = report["tools"]
    width = max((len(t["name"]) for t in tools), default=4)
    for tool in tools:
        summary = (tool.get("description") or "").strip().splitlines()
        first = summary[0] if summary else ""
        print(f"{tool['name']:<{width}}  {first[:100]}")
    tokens = report["tokens"]
    print(f"{_count(report['tool_count'], 'tool')}, {tokens:,} token{'' if tokens == 1 else 's'}")


def _unavailable(statuses: dict[str, ServerStatus]) -> dict[str, str]:
    return {
        sid: s.error_details.cause if s.error_details else s.state.value
        for sid, s in statuses.items()
        if s.state is not ServerState.READY
    }


# --------------------------------------------------------------------------- run


async def cmd_run(config: Config, args: argparse.Namespace, stop: _Stop) -> int:
    code = sys.stdin.read() if args.code == "-" else args.code
    pid = portal_id(config, args.portal)
    surface: Surface = args.surface
    async with connected(config, sys.stderr) as gateway:
        result = await gateway.portal(pid).call_tool(surface, _CODE_TOOLS[surface], {"code": code})
    return print_run_result(result, sys.stdout, sys.stderr)


def print_run_result(result: CallToolResult, out: TextIO, err: TextIO) -> int:
    """Result to `out`; logs and the error to `err`. Returns the exit code."""
    text = "\n".join(b.text for b in result.content if isinstance(b, TextContent))
    payload = result.structured_content
    if payload is None:
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
    cut = results.read_cut(text) if payload is None else None
    if cut is not None:
        # Cut at the output cap: the notice, then as much of the value as fits, readably.
        print(cut.notice, file=err)
        if result.is_error or cut.is_error:
            print(f"error: {cut.value}", file=err)
            return EXIT_FAILED
        print(cut.value, file=out)
        return EXIT_OK
    if not isinstance(payload, dict) or not ({"result", "error"} & payload.keys()):
        # Not the executor's shape (a tool error's text, say): show it as is.
        print(text, file=err if result.is_error else out)
        return EXIT_FAILED if result.is_error else EXIT_OK
    for entry in payload.get("logs") or []:
        print(f"[{entry.get('level', 'log')}] {entry.get('text', '')}", file=err)
    if result.is_error or "error" in payload:
        print(f"error: {_error_text(payload.get('error'))}", file=err)
        return EXIT_FAILED
    value = payload.get("result")
    print(value if isinstance(value, str) else json.dumps(value, indent=2), file=out)
    return EXIT_OK


def _error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    name = error.get("name") or error.get("kind", "error")
    message = str(error.get("message", ""))
    where = f"line {error['line']}, column {error.get('column')}" if "line" in error else ""
    if where and where not in message:  # syntax errors say where in their message already
        message = f"{message} ({where})"
    return f"{name}: {message}"


# --------------------------------------------------------------------------- status


async def cmd_status(config: Config, args: argparse.Namespace, stop: _Stop) -> int:
    source = args.config or "the built-in demo"
    print(f"status from a fresh connection to the upstreams of {source}", file=sys.stderr)
    async with connected(config, sys.stderr) as gateway:
        statuses = gateway.catalog.status()
    return _report_status(statuses, args.json)


def _report_status(statuses: dict[str, ServerStatus], as_json: bool) -> int:
    if as_json:
        data = {sid: s.model_dump(mode="json") for sid, s in statuses.items()}
        print(json.dumps({"servers": data}, indent=2))
    else:
        _print_status_table(statuses)
    errors = [sid for sid, s in statuses.items() if s.state is not ServerState.READY]
    return EXIT_UNAVAILABLE if errors else EXIT_OK


STATUS_TIMEOUT_S = 10.0
"""How long `status --url` waits for the portal to answer."""


async def status_of_running_portal(args: argparse.Namespace) -> int:
    """`status --url`: the servers' states as the running portal at `args.url` sees them."""
    base = args.url.rstrip("/")
    print(f"status of the running portal at {base}", file=sys.stderr)
    token = os.environ.get(ADMIN_TOKEN_ENV, "").strip()
    if not token:
        raise CliError(
            f"status --url needs the portal's admin token: set {ADMIN_TOKEN_ENV} to the value "
            "the portal was started with"
        )
    try:
        async with httpx2.AsyncClient(timeout=STATUS_TIMEOUT_S) as client:
            response = await client.get(
                f"{base}/api/portals", headers={"Authorization": f"Bearer {token}"}
            )
    except httpx2.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        raise CliError(f"cannot reach the portal at {base}: {reason}", EXIT_FAILED) from None
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "success" not in body:
        raise CliError(
            f"{base} did not answer as a codemode portal (HTTP {response.status_code} on "
            "/api/portals); is the URL the portal's base, like http://127.0.0.1:8787?",
            EXIT_FAILED,
        )
    if not body["success"]:
        errors = body.get("errors") or [{}]
        message = errors[0].get("message", "")
        code = EXIT_USAGE if response.status_code in (401, 403, 503) else EXIT_FAILED
        raise CliError(
            f"the portal at {base} refused: HTTP {response.status_code}: {message}", code
        )
    return _report_status(_statuses_of(body["result"]), args.json)


def _statuses_of(portals: list[dict[str, Any]]) -> dict[str, ServerStatus]:
    """Each server once, from the admin API's portals (a server may be in several)."""
    statuses: dict[str, ServerStatus] = {}
    for portal in portals:
        for server in portal["servers"]:
            statuses.setdefault(
                server["id"],
                ServerStatus(
                    server_id=server["id"],
                    state=server["status"],
                    error_details=server.get("error_details"),
                    last_synced=server.get("last_synced"),
                    last_successful_sync=server.get("last_successful_sync"),
                    tool_count=server["tool_count"],
                    prompt_count=server["prompt_count"],
                    protocol_version=server.get("protocol_version"),
                ),
            )
    return statuses


def _print_status_table(statuses: dict[str, ServerStatus]) -> None:
    width = max((len(sid) for sid in statuses), default=6)
    print(f"{'server':<{width}}  {'state':<7} {'tools':>5} {'prompts':>7}  cause")
    for sid, s in statuses.items():
        cause = s.error_details.cause if s.error_details else ""
        print(f"{sid:<{width}}  {s.state.value:<7} {s.tool_count:>5} {s.prompt_count:>7}  {cause}")


# --------------------------------------------------------------------------- check-config


def check_config(path: str, out: TextIO) -> int:
    """Validate without connecting: problems raise ConfigError (printed by main, exit 2).

    What the config refers to is checked here too: a command not on PATH, an unset variable
    or an absent file is a warning (it may be there at run time), printed with its key."""
    config = Config.load(path)
    errors, warnings = environment_problems(config)
    if errors:
        for warning in warnings:
            print(f"warning: {warning.render(path)}", file=out)
        raise ConfigError(errors, path)
    servers = ", ".join(s.id for s in config.servers) or "none"
    verdict = f"valid, with {_count(len(warnings), 'warning')}" if warnings else "OK"
    print(f"{path}: {verdict}: {_count(len(config.servers), 'server')} ({servers})", file=out)
    for portal in config.portals:
        code = "code mode on" if portal.allow_code_mode else "code mode off"
        host = portal.hostname or "localhost only"
        print(
            f"  portal {portal.id}: {_count(len(portal.servers), 'server')}, {host}, {code}",
            file=out,
        )
    if not config.portals:
        print("  no portals: nothing will be served", file=out)
    for warning in warnings:
        print(f"warning: {warning.render(path)}", file=out)
    if warnings:
        print(
            f"{path}: {_count(len(warnings), 'warning')}: what is missing here must be there "
            "where codemode runs",
            file=out,
        )
    return EXIT_OK


_COMMANDS: dict[str, Command] = {
    "serve": cmd_serve,
    "tools": cmd_tools,
    "run": cmd_run,
    "status": cmd_status,
}


if __name__ == "__main__":
    sys.exit(main())
