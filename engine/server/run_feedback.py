"""What a client hears during one `code`/`execute` run, before its result.

The sandbox's console lines go to the client as `notifications/message` on the request's own
stream (at or above the session's level, or the level a 2026-era request names in its
`_meta`), and a heartbeat goes out as `notifications/progress` for a client that sent a
progress token. Both are advisory: a line or beat that cannot be sent is dropped, never the run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from typing import Final

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream

from engine.server.live_sessions import Ctx, allows
from sandbox import LogEntry

# The logger of the module this came from, so that logging configs keep covering it.
log = logging.getLogger("codemode.mcp_server")

SANDBOX_LOG_LEVELS: Final[dict[str, types.LoggingLevel]] = {
    "debug": "debug",
    "log": "info",
    "info": "info",
    "warn": "warning",
    "error": "error",
}
"""The MCP log level of each sandbox console method."""

LOGGER_NAME: Final = "sandbox"
"""The `logger` field of console lines sent as `notifications/message`."""

MAX_PENDING_LOG_LINES: Final = 1000
"""Console lines waiting to be sent per run; beyond that they are dropped (the result has them)."""


class RunFeedback:
    """Console lines as `notifications/message` and a progress heartbeat, for one code run."""

    def __init__(self, ctx: Ctx, min_level: types.LoggingLevel | None, interval_s: float) -> None:
        self.ctx = ctx
        self.min_level = min_level
        self.interval_s = interval_s

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Callable[[LogEntry], None]]:
        send, receive = anyio.create_memory_object_stream[LogEntry](MAX_PENDING_LOG_LINES)

        def on_log(entry: LogEntry) -> None:
            level = SANDBOX_LOG_LEVELS.get(entry.level, "info")
            if self.min_level is not None and allows(level, self.min_level):
                # Dropped when the client is slow or the run is over: the result has the logs.
                with suppress(anyio.WouldBlock, anyio.ClosedResourceError):
                    send.send_nowait(entry)

        async with anyio.create_task_group() as tg:
            tg.start_soon(self._forward_logs, receive)
            heartbeat = start_heartbeat(tg, self.ctx, self.interval_s)
            try:
                yield on_log
            finally:
                heartbeat.cancel()
                send.close()  # the forwarder sends what is queued, then ends

    async def _forward_logs(self, receive: MemoryObjectReceiveStream[LogEntry]) -> None:
        async for entry in receive:
            params = types.LoggingMessageNotificationParams(
                level=SANDBOX_LOG_LEVELS.get(entry.level, "info"),
                data=entry.text,
                logger=LOGGER_NAME,
            )
            try:
                # On this request's stream: 2026-era clients accept log lines nowhere else.
                await self.ctx.session.send_notification(
                    types.LoggingMessageNotification(params=params), self.ctx.request_id
                )
            except Exception:  # advisory: a lost log line must not fail the run
                log.debug("could not send a console line", exc_info=True)


def start_heartbeat(tg: TaskGroup, ctx: Ctx, interval_s: float) -> anyio.CancelScope:
    """Report progress on `ctx`'s request every `interval_s` in `tg` until the scope returned
    is cancelled."""
    scope = anyio.CancelScope()

    async def beat() -> None:
        with scope:
            started = time.monotonic()
            for beats in range(1, 1_000_000):  # bounded: a run has a timeout far below this
                await anyio.sleep(interval_s)
                elapsed = time.monotonic() - started
                # A no-op unless the client asked for progress with a progressToken.
                await ctx.session.report_progress(
                    float(beats), None, f"running for {elapsed:.0f} s"
                )

    tg.start_soon(beat)
    return scope


__all__ = [
    "LOGGER_NAME",
    "MAX_PENDING_LOG_LINES",
    "SANDBOX_LOG_LEVELS",
    "RunFeedback",
    "start_heartbeat",
]
