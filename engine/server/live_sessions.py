"""The 2025-11-25 era sessions of one MCP server, with the log level each one set.

That era's clients get list changes and upstream log lines on their session's standalone
stream, which the SDK offers no way to reach from outside a request: `LiveSessions` remembers
each session's handle as its requests go by, forgets it when it ends, and sends to all of them
(`announce`, `broadcast_log`). 2026-07-28 clients have no such stream and are not tracked.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final, get_args

import mcp_types as types
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.session import ServerSession
from mcp_types.version import MODERN_PROTOCOL_VERSIONS
from starlette.requests import Request

# The logger of the module this came from, so that logging configs keep covering it.
log = logging.getLogger("codemode.mcp_server")

Ctx = ServerRequestContext[Any, Any]

LOG_LEVELS: Final[tuple[types.LoggingLevel, ...]] = get_args(types.LoggingLevel)
"""Severity-ascending (RFC 5424 order, as the MCP spec lists them)."""

DEFAULT_LOG_LEVEL: Final[types.LoggingLevel] = "info"
"""What a 2025-era session gets before it sends `logging/setLevel` (debug lines are noise)."""

STDIO_SESSION: Final = "stdio"
"""The session key of a connection that has no HTTP session id (stdio: one per process)."""


@dataclass
class _Live:
    session: ServerSession
    level: types.LoggingLevel = DEFAULT_LOG_LEVEL
    last_active: float = field(default_factory=time.monotonic)


class LiveSessions:
    """The 2025-11-25 era sessions of one server and their log levels.

    The SDK has no way to reach every session of a server from outside a request, so each
    request's session handle is remembered by session id (a middleware sees every message).
    A session is forgotten when the client DELETEs it (`forget`), when it has been idle
    longer than `idle_timeout_s` (the transport's own rule: the SDK ends it then), when a
    notification to it fails, or when more than `limit` sessions are known (least recently
    active first). The HTTP layer reports requests in flight with `busy`.
    """

    def __init__(
        self,
        *,
        idle_timeout_s: float | None = None,
        limit: int = 10_000,
        on_forget: Callable[[str], None] | None = None,
    ) -> None:
        self._idle_timeout_s = idle_timeout_s
        self._limit = limit
        self._on_forget = on_forget
        """Told the key of each session forgotten (its resource subscriptions go with it)."""
        self._live: OrderedDict[str, _Live] = OrderedDict()
        # HTTP requests in flight per session id (an open GET stream counts), kept apart from
        # `_live`: a GET stream can open before the session's first message is seen.
        self._in_flight: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, key: object) -> bool:
        return key in self._live

    async def middleware(self, ctx: Ctx, call_next: CallNext) -> HandlerResult:
        key = session_key(ctx)
        if key is not None and ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self._remember(key, ctx.session)
        return await call_next(ctx)

    def _remember(self, key: str, session: ServerSession) -> None:
        live = self._live.get(key)
        if live is None:
            self.prune()
            self._live[key] = _Live(session)
            while len(self._live) > self._limit:
                self._forgotten(self._live.popitem(last=False)[0])
        else:
            live.session = session
            live.last_active = time.monotonic()
            self._live.move_to_end(key)

    @contextmanager
    def busy(self, key: str | None) -> Iterator[None]:
        """Mark one HTTP request of session `key` in flight while inside."""
        if key is None:
            yield
            return
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        try:
            yield
        finally:
            left = self._in_flight.pop(key) - 1
            if left:
                self._in_flight[key] = left
            live = self._live.get(key)
            if live is not None:
                live.last_active = time.monotonic()

    def forget(self, key: str) -> None:
        if self._live.pop(key, None) is not None:
            self._forgotten(key)

    def _forgotten(self, key: str) -> None:
        if self._on_forget is not None:
            self._on_forget(key)

    def session(self, key: str) -> ServerSession | None:
        """The handle of live session `key`, for a notification to that session only."""
        live = self._live.get(key)
        return live.session if live is not None else None

    def prune(self) -> None:
        """Forget sessions the transport has ended for idleness."""
        if self._idle_timeout_s is None:
            return
        cutoff = time.monotonic() - self._idle_timeout_s
        for key, live in list(self._live.items()):
            if key not in self._in_flight and live.last_active < cutoff:
                del self._live[key]
                self._forgotten(key)

    def set_level(self, key: str | None, level: types.LoggingLevel) -> None:
        if key is not None and key in self._live:
            self._live[key].level = level

    def level(self, key: str | None) -> types.LoggingLevel:
        live = self._live.get(key) if key is not None else None
        return live.level if live is not None else DEFAULT_LOG_LEVEL

    async def broadcast_log(
        self, server_id: str, params: types.LoggingMessageNotificationParams
    ) -> None:
        """Send an upstream's log line to each live session whose level lets it through."""
        self.prune()
        logger = server_id + (f"/{params.logger}" if params.logger else "")
        for key, live in list(self._live.items()):
            if not allows(params.level, live.level):
                continue
            try:
                await live.session.send_log_message(
                    level=params.level, data=params.data, logger=logger
                )
            except Exception:  # the session ended under us: stop tracking it
                log.debug("session %s is gone; dropping it", key[:12], exc_info=True)
                self.forget(key)

    async def announce(
        self,
        *,
        tools: bool,
        prompts: bool,
        resources: bool = False,
        only: Callable[[str], bool] | None = None,
    ) -> None:
        """Send list_changed on every live session's standalone stream (those whose key
        `only` accepts, when given)."""
        self.prune()
        for key, live in list(self._live.items()):
            if only is not None and not only(key):
                continue
            try:
                if tools:
                    await live.session.send_tool_list_changed()
                if prompts:
                    await live.session.send_prompt_list_changed()
                if resources:
                    await live.session.send_resource_list_changed()
            except Exception:  # the session ended under us: stop tracking it
                log.debug("session %s is gone; dropping it", key[:12], exc_info=True)
                self.forget(key)


def session_key(ctx: Ctx) -> str | None:
    """The HTTP session id of this message, `STDIO_SESSION` off HTTP, None before one exists."""
    request = ctx.request
    if request is None:
        return STDIO_SESSION
    if isinstance(request, Request):
        return request.headers.get("mcp-session-id")
    return None


def allows(level: types.LoggingLevel, minimum: types.LoggingLevel) -> bool:
    """Whether a log line at `level` is sent to whoever asked for `minimum` and above."""
    return LOG_LEVELS.index(level) >= LOG_LEVELS.index(minimum)


__all__ = [
    "DEFAULT_LOG_LEVEL",
    "LOG_LEVELS",
    "STDIO_SESSION",
    "Ctx",
    "LiveSessions",
    "allows",
    "session_key",
]
