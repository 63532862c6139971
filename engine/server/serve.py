"""Serving a gateway's portals over HTTP: the listening socket, uvicorn, and a stop that
drains.

`listen` binds up front, so a busy port is one clear error before any upstream starts.
`serve_http` runs uvicorn on that socket until the `Stop` of the process fires: then `/readyz`
turns 503 (after SIGTERM it keeps serving for the drain period, for a load balancer to notice),
it stops accepting, ends standing notification streams (`CloseStreams`), lets requests in flight
finish for the grace period and cuts the rest; a second Ctrl-C cuts them at once.

`reload_config` re-reads the config file and applies it to the running gateway
(`Gateway.reload`), logging what applied, what needs a restart, or why nothing did;
`codemode serve` calls it on SIGHUP (`engine.server.signals.Hangup`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import signal
import socket
from collections.abc import Callable, Generator, Sequence

import anyio
import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine.config import Config, ConfigError
from engine.config_store import keep_stored_entries
from engine.gateway import Gateway
from engine.reload import ReloadReport
from engine.server.app import create_app
from engine.server.health import Health
from engine.server.signals import Stop
from engine.server.signin import IdentityError

reload_log = logging.getLogger("codemode.reload")
KEEP_ALIVE_S = 75
"""How long an idle client connection is kept open. Longer than a load balancer keeps its
idle connections to us (HAProxy purges them within seconds; AWS ALB's idle timeout is 60 s):
with uvicorn's default 5 s, a balancer could reuse a connection just as we closed it, and the
request on it fails with nothing sent back (HAProxy `SD--`), which it does not retry."""
drain_log = logging.getLogger("codemode.drain")


class ServeError(Exception):
    """The HTTP server could not start; the message says why."""


class ListenError(ServeError):
    """The address cannot be listened on (in use, not an address of this host, ...)."""


def listen(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """Bind the listening socket up front so a busy port is one clear error. `reuse_port`:
    share the port with the other workers of `serve --workers` (the kernel spreads new
    connections over them)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, _, _, _, address = infos[0]
        # Name the protocol: asyncio sets TCP_NODELAY only on sockets whose `proto` says TCP, and
        # `socket.create_server` leaves it 0, which costs every response ~40 ms (Nagle + ACK).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address[:2] if family == socket.AF_INET else address)
            sock.listen(2048)
        except OSError:
            sock.close()
            raise
        return sock
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ListenError(f"cannot listen on {host}:{port}: {reason}") from None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: may resolve anywhere


def dev_sign_in_refusal(gateway_config: Config, host: str) -> str | None:
    """Why the config may not be served on `host`: the built-in `dev` sign-in (any email, no
    password) is for loopback only. None when serving is fine."""
    identity = gateway_config.identity
    if identity is None or identity.provider != "dev" or is_loopback(host):
        return None
    return (
        f'[identity] provider = "dev" lets anyone sign in as any email without a password, so '
        f"it is served on loopback only (127.0.0.1, ::1, localhost), not on {host}; listen on "
        "127.0.0.1, or configure an OpenID Connect provider (issuer, client_id)"
    )


def portal_urls(gateway: Gateway, sock: socket.socket) -> list[str]:
    """Where each portal is served, as lines for a person (read before uvicorn runs: it
    closes the socket as soon as it stops)."""
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


async def serve_http(
    gateway: Gateway,
    sock: socket.socket,
    stop: Stop,
    *,
    admin_token: str | None,
    public_hosts: Sequence[str],
    grace_s: float,
    drain_s: float = 0.0,
    worker: int | None = None,
    verbose: bool = False,
    on_serving: Callable[[], None] = lambda: None,
) -> bool:
    """Serve `gateway`'s portals on `sock` until `stop` fires; whether uvicorn started.

    On a stop signal `/readyz` turns 503 at once. After SIGTERM the server then goes on
    serving for `drain_s` (so a load balancer's health checks see it and send new requests
    elsewhere) before it stops accepting; Ctrl-C, or a second signal, stops accepting at once.
    Either way requests in flight then have `grace_s` to finish. `worker`: this process is
    worker number `worker` of `serve --workers`, named in a `codemode-worker` response header.

    `on_serving` is called once the server accepts connections (not when a stop came during
    start-up). The caller owns the gateway and the socket.

    Raises:
        ServeError: the app's start-up failed, or the `dev` sign-in is asked for on an
            address that is not loopback.
    """
    refusal = dev_sign_in_refusal(gateway.config, str(sock.getsockname()[0]))
    if refusal is not None:
        raise ServeError(refusal)
    try:
        inner = create_app(gateway, admin_token=admin_token, public_hosts=public_hosts)
    except IdentityError as exc:
        raise ServeError(str(exc)) from None
    app = CloseStreams(inner if worker is None else WorkerHeader(inner, worker))
    health: Health = inner.state.health
    server = _Server(
        uvicorn.Config(
            app,
            log_level="debug" if verbose else "warning",
            access_log=verbose,
            lifespan="on",
            timeout_keep_alive=KEEP_ALIVE_S,
            # Drain requests in flight; whatever still runs after this is cut.
            timeout_graceful_shutdown=grace_s,  # type: ignore[arg-type]  # a float works: it is a wait timeout
        ),
        on_serving,
    )

    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactQuery) for f in access.filters):
        access.addFilter(RedactQuery())

    def stop_accepting() -> None:
        server.should_exit = True
        app.close()

    def on_signal(signum: int) -> None:
        first = not health.draining
        health.draining = True  # readiness goes false before anything else
        if first and signum == signal.SIGTERM and drain_s > 0 and server.started:
            drain_log.warning("draining: /readyz is 503; stopping in %g s", drain_s)
            asyncio.get_running_loop().call_later(drain_s, stop_accepting)
            return
        if server.should_exit and signum == signal.SIGINT:
            server.force_exit = True  # a second Ctrl-C: stop waiting for open connections
        stop_accepting()

    stop.on_signal = on_signal
    # A stop noted while connecting skips uvicorn: started and then cancelled, it would leave
    # its lifespan task running past the gateway.
    if stop.signal is None:
        try:
            await server.serve(sockets=[sock])
        except SystemExit:  # uvicorn exits when the app's lifespan startup fails
            raise ServeError("the HTTP app failed to start (see above)") from None
    return server.started


def reload_config(gateway: Gateway, path: str | None) -> ReloadReport | None:
    """Re-read the config file at `path` and run it from the next request on, as far as it
    applies without a restart; the report, or None when nothing changed because the file
    does not load or its config cannot run (an error naming every problem is logged and
    the running config stays, whole). What needs a restart is a warning naming its keys."""
    if path is None:
        reload_log.warning(
            "reload: serving the built-in demo, there is no config file to re-read "
            "(serve --config FILE)"
        )
        return None
    try:
        report = gateway.reload(keep_stored_entries(Config.load(path), gateway.config))
    except ConfigError as exc:
        reload_log.error("reload of %s refused, still serving the previous config:\n%s", path, exc)
        return None
    if report.needs_restart:
        reload_log.warning(
            "reload of %s: changed, but needs a restart to apply (the running value is kept "
            "until then): %s",
            path,
            ", ".join(report.needs_restart),
        )
    applied = ", ".join(report.applied) or "no live changes"
    reload_log.info("reloaded %s: applied from the next request: %s", path, applied)
    return report


_SECRET_PARAMS = re.compile(
    r"(?<=[?&])(code|state|request|token|refresh_token|session_state)=[^&]*"
)


class RedactQuery(logging.Filter):
    """Keeps codes, states and sealed requests out of uvicorn's access log (`--verbose`):
    `/auth/callback?code=...` and the consent page's `?request=...` show as `code=…`."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            path = _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}=…", args[2])
            record.args = (*args[:2], path, *args[3:])
        return True


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_serving: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_serving = on_serving

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        # Said only when the server really serves: a stop that came during start-up skips it.
        if self.started and not self.should_exit:
            self.on_serving()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        # The process's `Stop` owns SIGINT/SIGTERM: it stops uvicorn, then the caller closes
        # the gateway, which reaps the upstream child processes. uvicorn's own capture would
        # re-raise the signal afterwards.
        yield


WORKER_HEADER = "codemode-worker"


class WorkerHeader:
    """ASGI wrapper: every response names the worker that answered (its number, 1..N, not
    its pid), so an operator or a test can see the load spread over `serve --workers`."""

    def __init__(self, app: ASGIApp, number: int) -> None:
        self.app = app
        self.header = (WORKER_HEADER.encode(), str(number).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def named(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), self.header]
            await send(message)

        await self.app(scope, receive, named)


class CloseStreams:
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
