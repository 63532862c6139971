"""One connection to one upstream MCP server, kept alive and in sync.

`Upstream.run()` supervises the connection for the life of the catalog: connect (streamable HTTP
or stdio, either protocol era via the SDK's `Client`), list tools, prompts, resources and
resource templates, keep them fresh
(list_changed notifications, `subscriptions/listen` on 2026-era servers, an interval, on
demand), and reconnect with capped exponential backoff when the server dies or drops us.
How its failures are worded is `engine.upstream_errors`; the end-of-file watch on the transport
and a stdio server's stderr tail are `engine.upstream_streams`.

What is left is one idea, one connection's life, and stays one module: the supervisor, the
syncs and the request path all read and replace the same `_Connection`, and the rules between
them (a request waits while a Ready server swaps sessions, a timeout asks for a re-sync, a
forgotten session reconnects at once, without backoff) only read right side by side.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, TypeVar

import anyio
import anyio.abc
import httpx2
import mcp_types as types
from mcp.client import Client, Transport
from mcp.client.session import IncomingMessage
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.client.subscriptions import ListenNotSupportedError
from mcp.shared.subscriptions import ResourceUpdated
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from engine import telemetry
from engine.config import ServerConfig
from engine.credentials import read_secret, resolve_env, upstream_headers
from engine.egress import EgressProxy, client_options, proxy_unreachable, via_proxy
from engine.environment import resolve_command
from engine.headless_oauth import HeadlessOAuth
from engine.status import ErrorDetails, ServerState, ServerStatus, UpstreamError
from engine.upstream_errors import (
    describe_failure,
    leaf_error,
    server_address,
    session_gone,
    with_stderr_tail,
)
from engine.upstream_oauth import ConfiguredClientStorage, configured_client
from engine.upstream_resources import (
    ResourceSubscriptions,
    cancel_on,
    resources_page,
    templates_page,
    uri_of,
)
from engine.upstream_streams import StderrTail, watch_eof

if TYPE_CHECKING:
    from engine.store.upstream_tokens import UpstreamTokenStore

logger = logging.getLogger(__name__)
STARTUP_STATUS: Final = "codemode_startup_status"
"""Attribute of a log record that repeats a server's start-up status (True), e.g. its failure."""

BACKOFF_START_S: Final = 0.5
BACKOFF_CAP_S: Final = 30.0
MAX_LIST_PAGES: Final = 100
"""A server whose cursors never end must not hang a sync."""
UPSTREAM_IDLE_CONNECTIONS: Final = 8
"""Idle HTTP connections kept per upstream for reuse. A bound is needed: httpx only drops an
expired idle connection when the pool is next used, so without one a quiet server kept a
file descriptor per concurrent call of its busiest moment."""
UPSTREAM_KEEPALIVE_S: Final = 2.0
"""How long an idle HTTP connection to an upstream is kept for reuse: less than servers keep
theirs (uvicorn 5 s, most proxies longer), so we never send on one the server is closing."""


def upstream_limits() -> httpx2.Limits:
    """The connection pool of every HTTP client that talks to an upstream MCP server."""
    return httpx2.Limits(
        max_keepalive_connections=UPSTREAM_IDLE_CONNECTIONS, keepalive_expiry=UPSTREAM_KEEPALIVE_S
    )


RESYNC_MIN_GAP_S: Final = 0.2
"""Between re-syncs: a flood of list_changed notifications must not become a flood of lists."""

_T = TypeVar("_T")


def backoff_delays(
    start_s: float = BACKOFF_START_S, cap_s: float = BACKOFF_CAP_S
) -> Iterator[float]:
    """Seconds to wait before each reconnect attempt: doubling from `start_s`, capped at `cap_s`."""
    delay = start_s
    while True:
        yield delay
        delay = min(delay * 2, cap_s)


@dataclass(eq=False)
class _Connection:
    """State of one connection attempt; replaced wholesale on reconnect."""

    client: Client | None = None
    lost: anyio.Event = field(default_factory=anyio.Event)
    lost_error: ErrorDetails | None = None
    oauth: HeadlessOAuth | None = None
    expired: bool = False
    """The server answered 404 to our Mcp-Session-Id: reconnect at once, it is not an outage."""
    http_status: int | None = None
    resync_wanted: anyio.Event = field(default_factory=anyio.Event)
    stderr: StderrTail | None = None

    def lose(self, error: ErrorDetails | None) -> None:
        if not self.lost.is_set():
            self.lost_error = error
            self.lost.set()

    def want_resync(self) -> None:
        self.resync_wanted.set()

    @property
    def modern(self) -> bool:
        return self.client is not None and self.client.protocol_version in MODERN_PROTOCOL_VERSIONS


class Upstream:
    """Connection, catalog and health of one upstream server."""

    def __init__(
        self,
        config: ServerConfig,
        on_change: Callable[[str], None],
        on_log: Callable[[str, types.LoggingMessageNotificationParams], None] | None = None,
        on_resource_updated: Callable[[str, str], None] | None = None,
        egress: EgressProxy | None = None,
    ) -> None:
        self.config = config
        self.egress = egress
        """The forward proxy this server's HTTP goes through (`secure_web_gateway`), or None."""
        self._on_change = on_change
        self._on_log = on_log
        self._on_resource_updated = on_resource_updated
        self._resources: list[types.Resource] = []
        self._templates: list[types.ResourceTemplate] = []
        self.subscriptions = ResourceSubscriptions()
        """Upstream URIs someone downstream subscribed to, counted; re-sent on reconnect."""
        self._status = ServerStatus(server_id=config.id, state=ServerState.WAITING)
        self._tools: list[types.Tool] = []
        self._prompts: list[types.Prompt] = []
        self._conn: _Connection | None = None
        self._changed = anyio.Event()
        self._wake = anyio.Event()
        self._sync_lock = anyio.Lock()
        self._secret = ""
        self._settled = anyio.Event()
        self._logged_cause = ""
        self._start_awaited = False
        self._retired: ErrorDetails | None = None
        """Why this connection is being closed for good (a new config), once it is."""
        self._helpers: anyio.abc.TaskGroup
        """Background readers tied to the supervisor's life (set by `run`)."""
        self.tokens: UpstreamTokenStore | None = None
        """Where an `oauth` server's admin credential is kept (set before `run`)."""
        self._stale = False
        """In Error because the credential needs a person: the last good lists stay offered."""
        self.on_notice: Callable[[str], None] | None = None
        """Told `server_id` when the server announces list_changed itself: other processes,
        with their own connections, may not have been told (`engine.upstream_relay`)."""

    def peer_noticed(self) -> None:
        """Another process saw this server announce list_changed: list it again."""
        if self._conn is not None:
            self._conn.want_resync()

    # ----- read side -----

    @property
    def status(self) -> ServerStatus:
        return self._status

    @property
    def tools(self) -> list[types.Tool]:
        offered = self._status.state is ServerState.READY or self._stale
        return list(self._tools) if offered else []

    @property
    def prompts(self) -> list[types.Prompt]:
        return list(self._prompts) if self._status.state is ServerState.READY else []

    @property
    def resources(self) -> list[types.Resource]:
        return list(self._resources) if self._status.state is ServerState.READY else []

    @property
    def resource_templates(self) -> list[types.ResourceTemplate]:
        return list(self._templates) if self._status.state is ServerState.READY else []

    async def wait_settled(self, *, at_start: bool = True) -> None:
        """Return once the first connection attempt ended in Ready or Error. `at_start`: the
        caller reports that outcome as the start-up status (its log record says so)."""
        self._start_awaited = at_start
        try:
            with anyio.move_on_after(self.config.connect_timeout_s + 5):
                await self._settled.wait()
        finally:
            self._start_awaited = False

    def retire(self, *, replaced: bool) -> None:
        """Mark this upstream as closing for good (a new config removed or `replaced` it):
        calls still in flight, or made to it from now on, fail saying so."""
        cause = (
            "its config changed and it is reconnecting; the call was cut"
            if replaced
            else "it was removed from the config; the call was cut"
        )
        self._retired = ErrorDetails(cause=cause, is_upstream=False, retryable=replaced)
        changed, self._changed = self._changed, anyio.Event()
        changed.set()  # a request waiting for a reconnection stops waiting

    # ----- state changes -----

    def _publish(self, status: ServerStatus) -> None:
        self._status = status
        if status.state is not ServerState.WAITING:
            self._settled.set()
        changed, self._changed = self._changed, anyio.Event()
        changed.set()
        try:
            self._on_change(self.config.id)
        except Exception:  # a listener's bug must not take the connection down
            logger.exception("on_change callback failed for server %s", self.config.id)

    def _forward_log(self, params: types.LoggingMessageNotificationParams) -> None:
        if self._on_log is None:
            return
        try:
            self._on_log(self.config.id, params)
        except Exception:  # a listener's bug must not take the connection down
            logger.debug("on_log callback failed for server %s", self.config.id, exc_info=True)

    def _forward_resource_updated(self, uri: str) -> None:
        if self._on_resource_updated is None or uri not in self.subscriptions:
            return  # an update nobody here asked for (or no longer wants)
        try:
            self._on_resource_updated(self.config.id, uri)
        except Exception:  # a listener's bug must not take the connection down
            logger.debug("resource update callback failed for %s", self.config.id, exc_info=True)

    def _set_error(self, details: ErrorDetails, *, stale: bool = False) -> None:
        # Retries keep failing the same way; say it once, not every backoff round.
        if details.cause != self._logged_cause:
            # The first outcome of the first connection, while the catalog waits for it, is the
            # server's start-up status, which whoever starts the catalog reports as such (the
            # CLI prints a line per server): the record says so, for log handlers to leave out.
            at_start = self._start_awaited and not self._settled.is_set()
            logger.warning(
                "upstream %s: %s",
                self.config.id,
                details.cause,
                extra={STARTUP_STATUS: at_start},
            )
            self._logged_cause = details.cause
        self._stale = stale
        self._publish(
            self._status.model_copy(
                update={
                    "state": ServerState.ERROR,
                    "error_details": details,
                    "last_synced": datetime.now(UTC),
                    # As tools() says: nothing is offered while in Error, unless stale.
                    "tool_count": len(self._tools) if stale else 0,
                    "prompt_count": 0,
                    "resource_count": 0,
                }
            )
        )

    # ----- supervisor -----

    async def run(self) -> None:
        """Keep the server connected until cancelled. Never raises for upstream failures."""
        if self.config.auth_type == "oauth" and self.tokens is None:
            self._set_error(
                ErrorDetails(cause="oauth not configured", is_upstream=False, retryable=False)
            )
            await anyio.sleep_forever()
        async with anyio.create_task_group() as self._helpers:
            await self._supervise()

    async def _supervise(self) -> None:
        delays = backoff_delays()
        while True:
            if not await self._has_credential():
                await self._wake.wait()  # `codemode auth` completes with a sync
                self._wake = anyio.Event()
                continue
            conn = _Connection()
            reached_ready = await self._connect_and_serve(conn)
            if conn.expired and reached_ready:
                continue  # a new session is all it takes; no outage, no backoff
            if reached_ready:
                delays = backoff_delays()
            if conn.oauth is not None and conn.oauth.failure is not None:
                await self._wake.wait()  # only a person can fix it: wait for `codemode auth`
                self._wake = anyio.Event()
                continue
            with anyio.move_on_after(next(delays)):
                await self._wake.wait()  # an on-demand sync cuts the wait short
            self._wake = anyio.Event()

    async def _connect_and_serve(self, conn: _Connection) -> bool:
        """One connection's life. Returns whether it reached Ready."""
        reached_ready = False
        error: ErrorDetails | None = None
        try:
            timeout = self.config.connect_timeout_s
            with anyio.CancelScope(deadline=anyio.current_time() + timeout) as connect_scope:
                async with self._open(conn) as client:
                    conn.client = client
                    self._conn = conn  # before Ready is published, so waiters find it
                    await self._sync(conn)
                    connect_scope.deadline = math.inf
                    reached_ready = True
                    await self._serve(conn)
            if connect_scope.cancelled_caught:
                error = ErrorDetails(
                    cause=f"no answer within connect_timeout_s={timeout:g} s while connecting"
                    f" to {server_address(self.config)}",
                    is_upstream=False,
                    retryable=True,
                )
            else:
                error = conn.lost_error
        except Exception as exc:
            if conn.lost_error is not None:
                # A request already marked the connection lost; keep what ended the session.
                logger.warning(
                    "upstream %s: session ended after the connection was lost: %s",
                    self.config.id,
                    type(exc).__name__,
                )
                logger.debug("upstream %s: what ended the session", self.config.id, exc_info=exc)
            error = conn.lost_error or self._describe(exc, conn)
        finally:
            if self._conn is conn:
                self._conn = None
        if error is not None and not (conn.expired and reached_ready):
            tail = conn.stderr.tail if conn.stderr is not None else ""
            stale = conn.oauth is not None and conn.oauth.failure is not None
            self._set_error(with_stderr_tail(error, tail, self.config), stale=stale)
        return reached_ready

    async def _serve(self, conn: _Connection) -> None:
        await self._resubscribe(conn)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._resync_worker, conn)
            tg.start_soon(self._interval_loop, conn)
            if conn.modern:
                tg.start_soon(self._listen_loop, conn)
            await conn.lost.wait()
            tg.cancel_scope.cancel()

    @asynccontextmanager
    async def _open(self, conn: _Connection) -> AsyncIterator[Client]:
        async with AsyncExitStack() as stack:
            if self.config.command:
                # Unwinds in reverse: the client (and child) first, then the tail drains.
                conn.stderr = tail = StderrTail(self.config.id)
                stack.callback(tail.close)
                self._helpers.start_soon(tail.pump)
                stack.push_async_callback(tail.finish)
            transport = await self._transport(conn, stack)

            def eof() -> None:
                conn.lose(
                    ErrorDetails(
                        cause=f"connection to {server_address(self.config)} closed"
                        + (" (the server process exited)" if self.config.command else ""),
                        is_upstream=False,
                        retryable=True,
                    )
                )

            async def on_message(message: IncomingMessage) -> None:
                if isinstance(
                    message,
                    types.ToolListChangedNotification
                    | types.PromptListChangedNotification
                    | types.ResourceListChangedNotification,
                ):
                    conn.want_resync()
                    if self.on_notice is not None:
                        self.on_notice(self.config.id)
                elif isinstance(message, types.ResourceUpdatedNotification):
                    # 2026-era updates come (also) through the listen stream: taken there.
                    if not conn.modern:
                        self._forward_resource_updated(message.params.uri)
                elif isinstance(message, types.LoggingMessageNotification):
                    self._forward_log(message.params)
                elif isinstance(message, Exception):
                    logger.debug("upstream %s transport fault: %r", self.config.id, message)

            client = Client(
                watch_eof(transport, eof),
                mode="auto",
                cache=None,  # the catalog is the cache; re-syncs must reach the server
                message_handler=on_message,
            )
            entered = await stack.enter_async_context(client)
            if conn.stderr is not None:
                conn.stderr.writer.close()  # the child holds its copy; EOF follows its exit
            yield entered

    async def _transport(self, conn: _Connection, stack: AsyncExitStack) -> Transport:
        cfg = self.config
        if cfg.url:
            headers = upstream_headers(cfg)
            if cfg.auth_type == "bearer":
                self._secret = read_secret(cfg)
            if cfg.auth_type == "oauth" and self.tokens is not None:
                stored = ConfiguredClientStorage(
                    self.tokens.storage(cfg.id), configured_client(cfg)
                )
                conn.oauth = HeadlessOAuth(cfg.url, cfg.id, stored)

            async def record(response: httpx2.Response) -> None:
                # The SDK folds HTTP failures into JSON-RPC errors: keep the status.
                status = response.status_code
                conn.http_status = status if status >= 400 else None
                if status == 404 and response.request.headers.get("mcp-session-id"):
                    conn.expired = True

            http = await stack.enter_async_context(
                httpx2.AsyncClient(
                    headers=headers,
                    # No read timeout: calls carry their own per-server deadline, and the
                    # standing SSE stream of 2025-era servers is silent for long periods.
                    timeout=httpx2.Timeout(cfg.connect_timeout_s, read=None),
                    # Idle pooled connections are dropped well before common servers drop
                    # them (uvicorn after 5 s, the same as httpx's default): reusing one just
                    # as the server closes it fails the request, and the SDK then ends the
                    # whole session, failing every call in flight.
                    limits=upstream_limits(),
                    auth=conn.oauth,
                    # With telemetry on: `traceparent` of the current span on every request.
                    event_hooks={"request": telemetry.request_hooks(), "response": [record]},
                    **client_options(self.egress),
                )
            )
            return streamable_http_client(cfg.url, http_client=http)
        assert cfg.command is not None  # ServerConfig guarantees url xor command
        params = StdioServerParameters(
            command=resolve_command(cfg),
            args=list(cfg.args),
            env=resolve_env(cfg) or None,
            cwd=cfg.cwd,
        )
        errlog = conn.stderr.writer if conn.stderr is not None else sys.stderr
        return stdio_client(params, errlog=errlog)

    # ----- sync -----

    async def _sync(self, conn: _Connection) -> None:
        client = conn.client
        assert client is not None
        async with self._sync_lock:
            with anyio.fail_after(self.config.connect_timeout_s):
                caps = client.server_capabilities
                tools = (
                    await _all_pages(lambda cursor: _tools_page(client, cursor), "tools/list")
                    if caps.tools is not None
                    else []
                )
                prompts = (
                    await _all_pages(lambda cursor: _prompts_page(client, cursor), "prompts/list")
                    if caps.prompts is not None
                    else []
                )
                resources, templates = await self._list_resources(client)
            if conn.lost.is_set():
                return
            now = datetime.now(UTC)
            self._tools, self._prompts = tools, prompts
            self._resources, self._templates = resources, templates
            self._logged_cause = ""
            self._stale = False
            self._publish(
                ServerStatus(
                    server_id=self.config.id,
                    state=ServerState.READY,
                    last_synced=now,
                    last_successful_sync=now,
                    tool_count=len(tools),
                    prompt_count=len(prompts),
                    resource_count=len(resources) + len(templates),
                    protocol_version=client.protocol_version,
                )
            )

    async def _list_resources(
        self, client: Client
    ) -> tuple[list[types.Resource], list[types.ResourceTemplate]]:
        if client.server_capabilities.resources is None:
            return [], []
        resources = await _all_pages(
            lambda cursor: resources_page(client, cursor), "resources/list", key=uri_of
        )
        templates = await _all_pages(
            lambda cursor: templates_page(client, cursor),
            "resources/templates/list",
            key=uri_of,
        )
        return resources, templates

    async def _resubscribe(self, conn: _Connection) -> None:
        """A new session knows none of our subscriptions: send them again (2025 era; a
        2026-era server gets them on its listen stream)."""
        client = conn.client
        if client is None or conn.modern:
            return
        for uri in self.subscriptions.uris():
            try:
                await client.subscribe_resource(uri)
            except Exception as exc:
                logger.info(
                    "upstream %s: re-subscribing to %s failed: %r", self.config.id, uri, exc
                )

    async def _resync(self, conn: _Connection) -> None:
        try:
            await self._sync(conn)
        except Exception as exc:
            conn.lose(None if conn.expired else self._describe(exc, conn))

    async def _resync_worker(self, conn: _Connection) -> None:
        while True:
            await conn.resync_wanted.wait()
            conn.resync_wanted = anyio.Event()
            await self._resync(conn)
            # The first change is fetched at once; changes announced meanwhile wait a little.
            await anyio.sleep(RESYNC_MIN_GAP_S)

    async def _interval_loop(self, conn: _Connection) -> None:
        while True:
            await anyio.sleep(self.config.sync_interval_s)
            conn.want_resync()

    async def _listen_loop(self, conn: _Connection) -> None:
        """2026-era servers push list changes only on a `subscriptions/listen` stream."""
        client = conn.client
        assert client is not None
        caps = client.server_capabilities
        tools = bool(caps.tools and caps.tools.list_changed)
        prompts = bool(caps.prompts and caps.prompts.list_changed)
        resources = bool(caps.resources and caps.resources.list_changed)
        subscribe = bool(caps.resources and caps.resources.subscribe)
        if not (tools or prompts or resources or subscribe):
            return
        delay = BACKOFF_START_S
        while True:
            changed = self.subscriptions.changed
            uris = self.subscriptions.uris() if subscribe else []
            try:
                # A change of the URIs we watch opens a new stream with the new list.
                done = anyio.Event()
                with anyio.CancelScope() as scope:
                    self._helpers.start_soon(cancel_on, changed, done, scope)
                    async with client.listen(
                        tools_list_changed=tools,
                        prompts_list_changed=prompts,
                        resources_list_changed=resources,
                        resource_subscriptions=uris,
                    ) as subscription:
                        delay = BACKOFF_START_S
                        async for event in subscription:
                            if isinstance(event, ResourceUpdated):
                                self._forward_resource_updated(event.uri)
                            else:
                                conn.want_resync()
                done.set()
                if scope.cancelled_caught:
                    continue
            except ListenNotSupportedError:
                return
            except Exception as exc:
                logger.debug("upstream %s: listen stream ended: %r", self.config.id, exc)
            finally:
                done.set()
            # No replay after a drop: refetch, which also tells us whether the server is gone.
            conn.want_resync()
            await anyio.sleep(delay)
            delay = min(delay * 2, BACKOFF_CAP_S)

    async def sync(self) -> ServerStatus:
        """Re-sync now; reconnect at once if the server is not connected."""
        conn = self._conn
        if conn is not None and not conn.lost.is_set():
            await self._resync(conn)
            if not conn.lost.is_set():
                return self._status
        changed = self._changed
        self._wake.set()
        with anyio.move_on_after(self.config.connect_timeout_s + 5):
            while True:
                await changed.wait()
                changed = self._changed
                if self._status.state is not ServerState.WAITING:
                    break
        return self._status

    async def reconnect(self) -> ServerStatus:
        """End the connection and connect afresh (an `oauth` server whose credential was
        dropped or replaced: the old session holds the old token). Returns the new status."""
        conn = self._conn
        changed = self._changed
        if conn is not None:
            conn.expired = True  # not an outage: no backoff, no error published
            conn.lose(None)
        self._wake.set()
        with anyio.move_on_after(self.config.connect_timeout_s + 5):
            while True:
                await changed.wait()
                changed = self._changed
                if self._status.state is not ServerState.WAITING:
                    break
        return self._status

    # ----- calls -----

    async def call_tool(
        self, name: str, arguments: dict[str, Any] | None, timeout_s: float | None
    ) -> types.CallToolResult:
        timeout = timeout_s if timeout_s is not None else self.config.call_timeout_s

        async def op(client: Client) -> types.CallToolResult:
            return await client.call_tool(name, arguments)

        return await self._request(f"tools/call {name}", op, timeout)

    async def get_prompt(
        self, name: str, arguments: dict[str, str] | None
    ) -> types.GetPromptResult:
        async def op(client: Client) -> types.GetPromptResult:
            return await client.get_prompt(name, arguments)

        return await self._request(f"prompts/get {name}", op, self.config.call_timeout_s)

    async def read_resource(self, uri: str) -> types.ReadResourceResult:
        async def op(client: Client) -> types.ReadResourceResult:
            return await client.read_resource(uri)

        return await self._request(f"resources/read {uri}", op, self.config.call_timeout_s)

    async def subscribe(self, uri: str) -> None:
        """Count one more downstream subscriber of `uri`; the first one subscribes upstream
        (2025 era: `resources/subscribe`; 2026 era: the listen stream is reopened with it)."""
        if not self.subscriptions.add(uri):
            return
        try:
            await self._subscribe_request(uri, subscribe=True)
        except BaseException:
            self.subscriptions.remove(uri)
            raise

    async def unsubscribe(self, uri: str) -> None:
        if not self.subscriptions.remove(uri):
            return
        conn = self._conn
        if conn is None or conn.lost.is_set():
            return  # no session holds it any more: nothing to undo upstream
        try:
            await self._subscribe_request(uri, subscribe=False)
        except UpstreamError as exc:
            logger.info("upstream %s: unsubscribe %s failed: %s", self.config.id, uri, exc)

    async def _subscribe_request(self, uri: str, *, subscribe: bool) -> None:
        async def op(client: Client) -> None:
            caps = client.server_capabilities.resources
            if subscribe and not (caps and caps.subscribe):
                raise UpstreamError(
                    self.config.id,
                    ErrorDetails(
                        cause=f"server {self.config.id!r} does not offer resource subscriptions",
                        is_upstream=True,
                        retryable=False,
                    ),
                )
            if client.protocol_version in MODERN_PROTOCOL_VERSIONS:
                return  # the listen loop picks the new list up
            if subscribe:
                await client.subscribe_resource(uri)
            else:
                await client.unsubscribe_resource(uri)

        what = f"resources/{'subscribe' if subscribe else 'unsubscribe'} {uri}"
        await self._request(what, op, self.config.call_timeout_s)

    async def _request(
        self, what: str, op: Callable[[Client], Awaitable[_T]], limit_s: float
    ) -> _T:
        conn = await self._connection()
        for attempt in range(2):
            assert conn.client is not None
            try:
                with anyio.fail_after(limit_s):
                    return await op(conn.client)
            except TimeoutError:
                # One slow tool, or a dead server? A re-sync (bounded by connect_timeout_s)
                # tells: it keeps the server Ready, or puts it in Error and reconnects.
                conn.want_resync()
                raise UpstreamError(
                    self.config.id,
                    ErrorDetails(
                        cause=f"{what} got no answer within {limit_s:g} s (the server's"
                        " call_timeout_s or the call's timeout); the request was cancelled",
                        is_upstream=False,
                        retryable=True,
                    ),
                ) from None
            except UpstreamError:
                raise  # already worded by the operation itself
            except Exception as exc:
                if self._retired is not None:
                    raise UpstreamError(self.config.id, self._retired) from None
                if attempt == 0 and session_gone(exc, expired=conn.expired):
                    # The server forgot our session (404): open a new one, retry once.
                    logger.info("upstream %s: session expired, reconnecting", self.config.id)
                    conn.lose(None)
                    conn = await self._connection(stale=conn)
                    continue
                details = self._describe(exc, conn)
                # Unreachable, or refusing our credentials: the server as a whole is at fault.
                if not details.is_upstream or details.status_code in (401, 403):
                    conn.lose(details)
                raise UpstreamError(self.config.id, details) from None
        raise AssertionError("unreachable")

    async def _connection(self, stale: _Connection | None = None) -> _Connection:
        """A live connection. Waits while a Ready server swaps sessions; else refuses at once."""
        conn = self._conn
        if (
            self._status.state is ServerState.READY
            and conn is not None
            and conn is not stale
            and not conn.lost.is_set()
        ):
            return conn  # the usual case: nothing to wait for, so no timeout scope to set up
        with anyio.move_on_after(self.config.connect_timeout_s + 5):
            while self._status.state is ServerState.READY and self._retired is None:
                changed = self._changed
                conn = self._conn
                if conn is not None and conn is not stale and not conn.lost.is_set():
                    return conn
                await changed.wait()  # every loss ends in a publish: Ready again, or Error
        raise self._unavailable()

    def _unavailable(self) -> UpstreamError:
        if self._retired is not None:
            return UpstreamError(self.config.id, self._retired)
        state = self._status.state
        details = self._status.error_details or ErrorDetails(
            cause="not connected yet", is_upstream=False, retryable=True
        )
        return UpstreamError(
            self.config.id,
            details.model_copy(
                update={
                    "cause": f"server unavailable ({state.value}): {details.cause}",
                    # Backoff keeps reconnecting, so a later call may work; oauth never will.
                    "retryable": self.config.auth_type != "oauth",
                }
            ),
        )

    def _describe(self, exc: BaseException, conn: _Connection) -> ErrorDetails:
        """`describe_failure` with what this connection saw and the token it sent."""
        if conn.oauth is not None and conn.oauth.failure is not None:
            return ErrorDetails(cause=str(conn.oauth.failure), is_upstream=False, retryable=False)
        details = describe_failure(
            exc, self.config, http_status=conn.http_status, secret=self._secret
        )
        if self.egress is None:
            return details
        unreachable = proxy_unreachable(leaf_error(exc))
        return via_proxy(details, self.egress, unreachable=unreachable)

    async def _has_credential(self) -> bool:
        """For an `oauth` server: whether an admin credential is stored; if not, say so."""
        if self.config.auth_type != "oauth" or self.tokens is None:
            return True
        if (await self.tokens.load(self.config.id)).tokens is not None:
            return True
        cause = f"authentication required — run `codemode auth {self.config.id}`"
        self._set_error(ErrorDetails(cause=cause, is_upstream=False, retryable=False))
        return False


async def _tools_page(client: Client, cursor: str | None) -> tuple[list[types.Tool], str | None]:
    page = await client.list_tools(cursor=cursor)
    return page.tools, page.next_cursor


async def _prompts_page(
    client: Client, cursor: str | None
) -> tuple[list[types.Prompt], str | None]:
    page = await client.list_prompts(cursor=cursor)
    return page.prompts, page.next_cursor


_Named = TypeVar("_Named", types.Tool, types.Prompt, types.Resource, types.ResourceTemplate)


def _name(item: types.Tool | types.Prompt | types.Resource | types.ResourceTemplate) -> str:
    return item.name


async def _all_pages(
    fetch: Callable[[str | None], Awaitable[tuple[list[_Named], str | None]]],
    what: str,
    key: Callable[[_Named], str] = _name,
) -> list[_Named]:
    """Follow nextCursor to the end; a cursor seen twice or too many pages ends the walk."""
    items: dict[str, _Named] = {}
    cursor: str | None = None
    seen: set[str] = set()
    for _ in range(MAX_LIST_PAGES):
        page, cursor = await fetch(cursor)
        for item in page:
            items.setdefault(key(item), item)  # a repeated key keeps its first definition
        if cursor is None:
            return list(items.values())
        if cursor in seen:
            break
        seen.add(cursor)
    logger.warning("%s: stopped after %d pages (cursor loop?)", what, len(seen) + 1)
    return list(items.values())


__all__ = ["BACKOFF_CAP_S", "BACKOFF_START_S", "MAX_LIST_PAGES", "Upstream", "backoff_delays"]
