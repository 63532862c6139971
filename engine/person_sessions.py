"""Per-person upstream sessions: the calls of a person to an `on_behalf` OAuth server, each
over an MCP session that carries that person's own token.

A session is opened on a person's first call to a server (lazily), kept for the next ones,
and closed when idle for `IDLE_S`, when the pool is at its cap and room is needed (the least
recently used idle one goes), when the server's config changes or it is removed
(`close(server_id=...)`), and when the person disconnects the server, connects it afresh or
signs out (`close(person_id=...)`). Each session is a task of the pool's task group, which
owns the SDK client's context (entered and left in the same task, as anyio wants).

The token is that person's row in the `UpstreamTokenStore`, refreshed ahead of expiry by
`HeadlessOAuth` exactly as the admin credential is. There is no fallback: without a stored
token, or once its refresh is refused, the call fails with `UpstreamConnectRequired`, which
names the page where the person connects the server. Nothing here logs a token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable
from urllib.parse import urlencode

import anyio
import anyio.abc
import httpx2
import mcp_types as types
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from engine.config import ServerConfig
from engine.egress import EgressProxy, client_options
from engine.headless_oauth import HeadlessOAuth
from engine.status import ErrorDetails, UpstreamError
from engine.upstream import upstream_limits
from engine.upstream_errors import describe_failure
from engine.upstream_oauth import ConfiguredClientStorage, configured_client

if TYPE_CHECKING:
    from engine.store.connect_prompts import ConnectPromptStore
    from engine.store.upstream_tokens import UpstreamTokenStore

logger = logging.getLogger(__name__)

MAX_SESSIONS: Final = 256
"""Open per-person sessions in one process; beyond that the least recently used idle one is
closed (a busy one never is: with every session busy the call is refused, retryable)."""
IDLE_S: Final = 300.0
"""A session nobody used for this long is closed; the next call opens it again."""
WAIT_POLL_S: Final = 0.25
"""How often a call waiting for its person to connect (on another replica) reads the store:
one indexed read per waiting call."""
CONNECTIONS_PATH: Final = "/connections"
"""The server selection page, where a person connects and disconnects servers."""

Key = tuple[str, int]
"""(server id, person id)."""

Connector = Callable[["UpstreamConnectRequired"], Awaitable[bool]]
"""Asks the person, through their MCP client, to connect (URL elicitation); whether they
did, so the call can be made again. `engine.server.url_connect` makes them."""


@runtime_checkable
class Halts(Protocol):
    """A connector (or approver) that may stop a code run to ask the person in a new round."""

    def halted(self) -> str | None:
        """Why no further upstream call may go for this request, or None."""
        ...


def connect_url(origin: str | None, portal_id: str, server_id: str | None = None) -> str:
    """The page where the person connects `server_id` (absolute when the origin is known);
    without a server, the page of the whole portal (`portal_servers select`)."""
    params = {"portal": portal_id} | ({"server": server_id} if server_id else {})
    query = urlencode(params)
    return f"{origin or ''}{CONNECTIONS_PATH}?{query}"


class UpstreamConnectRequired(UpstreamError):
    """The person has no working connection to an `on_behalf` server: they must connect it
    (again) on the portal's server selection page, at `url`."""

    def __init__(self, server_id: str, url: str, *, expired: bool) -> None:
        why = (
            "your connection to it expired and could not be refreshed"
            if expired
            else "you have not connected it yet"
        )
        cause = (
            f"this server acts with each person's own account and {why}. Ask the person to "
            f"open {url} and connect it (sign in there with the same account), then call again"
        )
        super().__init__(server_id, ErrorDetails(cause=cause, is_upstream=False, retryable=False))
        self.url = url
        self.expired = expired


class ConnectPending(Exception):
    """2026 era: the person must connect before the call; this round of the request ends with
    an `InputRequiredResult` carrying the URL (`engine.server.url_connect`), and the client's
    retry makes the call again."""

    def __init__(self, needed: UpstreamConnectRequired) -> None:
        super().__init__(needed.message)
        self.needed = needed


@dataclass(eq=False)
class _Session:
    key: Key
    ready: anyio.Event = field(default_factory=anyio.Event)
    stop: anyio.Event = field(default_factory=anyio.Event)
    client: Client | None = None
    oauth: HeadlessOAuth | None = None
    error: BaseException | None = None
    busy: int = 0
    last_used: float = field(default_factory=time.monotonic)


class PersonSessions:
    """The pool; `run()` must be running (the catalog runs it) before calls are made."""

    def __init__(
        self,
        tokens: UpstreamTokenStore,
        *,
        cap: int = MAX_SESSIONS,
        idle_s: float = IDLE_S,
        prompts: ConnectPromptStore | None = None,
    ) -> None:
        self.tokens = tokens
        self.prompts = prompts
        """Which servers each person was asked about (`engine.server.new_servers`)."""
        self.cap, self.idle_s = cap, idle_s
        self._sessions: dict[Key, _Session] = {}
        self._tasks: anyio.abc.TaskGroup | None = None
        self._waiters: dict[Key, anyio.Event] = {}
        """Woken when this process stored a new token (the store poll covers the others)."""

    def __len__(self) -> int:
        return len(self._sessions)

    async def run(self) -> None:
        """Hold the sessions and close idle ones, until cancelled."""
        async with anyio.create_task_group() as self._tasks:
            while True:
                await anyio.sleep(max(self.idle_s / 4, 0.05))
                now = time.monotonic()
                for session in list(self._sessions.values()):
                    if session.busy == 0 and now - session.last_used > self.idle_s:
                        self._drop(session)

    def close(self, *, server_id: str | None = None, person_id: int | None = None) -> int:
        """Close the sessions of `server_id` and/or `person_id` (both None: all); how many."""
        found = [
            s
            for (sid, pid), s in self._sessions.items()
            if (server_id is None or sid == server_id) and (person_id is None or pid == person_id)
        ]
        for session in found:
            self._drop(session)
        return len(found)

    def connected(self, key: Key) -> None:
        """A new token was stored for `key` in this process: the open session holds the old
        one, and a call here waiting for it goes on at once."""
        self.forget(key)
        waiter = self._waiters.pop(key, None)
        if waiter is not None:
            waiter.set()

    def forget(self, key: Key) -> None:
        """The token of `key` was dropped or replaced: close its session."""
        self.close(server_id=key[0], person_id=key[1])

    async def connected_at(self, key: Key) -> datetime | None:
        """When the person last connected `key` (any replica), from the store."""
        return (await self.tokens.load(*key)).connected_at

    async def wait_connected(self, key: Key, since: datetime | None, timeout_s: float) -> bool:
        """Whether the person connects `key` anew (`connected_at` moves on from `since`)
        within `timeout_s`, on any replica: the store is read every `WAIT_POLL_S`."""
        with anyio.move_on_after(timeout_s):
            while (await self.connected_at(key)) == since:
                waiter = self._waiters.setdefault(key, anyio.Event())
                with anyio.move_on_after(WAIT_POLL_S):
                    await waiter.wait()
            self.forget(key)  # a session opened meanwhile may hold the old token
            return True
        return False

    async def call_tool(
        self,
        config: ServerConfig,
        egress: EgressProxy | None,
        person_id: int,
        url: str,
        name: str,
        arguments: dict[str, Any] | None,
        timeout_s: float | None = None,
    ) -> types.CallToolResult:
        """`tools/call` as `person_id`. `url`: where they connect the server.

        Raises:
            UpstreamConnectRequired: no stored token for them, or its refresh was refused.
            UpstreamError: the server could not be reached or did not answer in time.
        """
        key = (config.id, person_id)
        session = await self._session(config, egress, key, url)
        session.busy += 1
        try:
            client = session.client
            if client is None:  # it ended between being found and being used
                raise _error(config.id, "the connection closed; try again", True)
            with anyio.fail_after(timeout_s or config.call_timeout_s):
                return await client.call_tool(name, arguments)
        except TimeoutError:
            raise _error(config.id, f"tools/call {name} got no answer in time", True) from None
        except UpstreamError:
            raise
        except Exception as exc:
            failure = await self._failure(config, session, url, exc)
            if not failure.details.is_upstream or isinstance(failure, UpstreamConnectRequired):
                self._drop(session)  # the session may be broken: the next call opens a new one
            raise failure from None
        finally:
            session.busy -= 1
            session.last_used = time.monotonic()

    async def _session(
        self, config: ServerConfig, egress: EgressProxy | None, key: Key, url: str
    ) -> _Session:
        session = self._sessions.get(key)
        if session is None:
            if (await self.tokens.load(*key)).tokens is None:
                raise UpstreamConnectRequired(config.id, url, expired=False)
            session = self._sessions.get(key)  # another call may have opened it meanwhile
        if session is None:
            self._make_room()
            session = self._sessions[key] = _Session(key)
            assert self._tasks is not None, "PersonSessions.run() is not running"
            self._tasks.start_soon(self._hold, session, config, egress)
        session.busy += 1  # opening counts as use: neither the idle sweep nor room-making
        try:  # may close a session a call is waiting on
            with anyio.move_on_after(config.connect_timeout_s):
                await session.ready.wait()
        finally:
            session.busy -= 1
            session.last_used = time.monotonic()
        if session.client is None:
            self._drop(session)
            if session.error is None:
                raise _error(config.id, f"no answer within {config.connect_timeout_s:g} s", True)
            raise await self._failure(config, session, url, session.error)
        return session

    def _make_room(self) -> None:
        if len(self._sessions) < self.cap:
            return
        idle = [s for s in self._sessions.values() if s.busy == 0]
        if not idle:
            raise _error("*", f"{self.cap} per-person sessions are busy; try again shortly", True)
        self._drop(min(idle, key=lambda s: s.last_used))

    async def _hold(
        self, session: _Session, config: ServerConfig, egress: EgressProxy | None
    ) -> None:
        assert config.url is not None
        try:
            # A pre-registered client (config or admin API) refreshes this person's token too.
            stored = ConfiguredClientStorage(
                self.tokens.storage(*session.key), configured_client(config)
            )
            session.oauth = HeadlessOAuth(config.url, config.id, stored, session.key)
            async with AsyncExitStack() as stack:
                http = await stack.enter_async_context(
                    httpx2.AsyncClient(
                        timeout=httpx2.Timeout(config.connect_timeout_s, read=None),
                        limits=upstream_limits(),
                        auth=session.oauth,
                        **client_options(egress),
                    )
                )
                transport = streamable_http_client(config.url, http_client=http)
                client = Client(transport, mode="auto", cache=None)
                session.client = await stack.enter_async_context(client)
                session.ready.set()
                await session.stop.wait()
        except Exception as exc:
            session.error = exc
            logger.info("upstream %s: a person's session ended: %s", config.id, type(exc).__name__)
        finally:
            session.client = None
            session.ready.set()
            self._drop(session)

    def _drop(self, session: _Session) -> None:
        session.stop.set()
        if self._sessions.get(session.key) is session:
            del self._sessions[session.key]

    async def _failure(
        self, config: ServerConfig, session: _Session, url: str, exc: BaseException
    ) -> UpstreamError:
        if session.oauth is not None and session.oauth.failure is not None:
            # In the store, so every replica's page says "expired".
            await self.tokens.mark_expired(*session.key)
            return UpstreamConnectRequired(config.id, url, expired=True)
        details = describe_failure(exc, config, http_status=None, secret="")
        return UpstreamError(config.id, details)


def _error(server_id: str, cause: str, retryable: bool) -> UpstreamError:
    return UpstreamError(
        server_id, ErrorDetails(cause=cause, is_upstream=False, retryable=retryable)
    )
