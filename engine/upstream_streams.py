"""The streams around one upstream connection: end-of-file watching and a stdio server's stderr.

`watch_eof` wraps a transport so the supervisor in `engine.upstream` learns when the server
side ends (the SDK's dispatcher ends quietly on EOF), and `StderrTail` reads a stdio child's
stderr: each line is logged, and the last few become part of the error cause when it dies.
"""

from __future__ import annotations

import logging
import os
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio
from mcp.client import Transport

# Named after the module the tail was read in before it had its own, so that a logging config
# that tunes `engine.upstream` keeps covering the servers' stderr.
_stderr_logger = logging.getLogger("engine.upstream.stderr")


class EofWatchingStream:
    """A read stream that reports when the server side ends (a stdio child exited).

    The SDK's dispatcher ends quietly on EOF; the supervisor needs to know so it can restart.
    """

    def __init__(self, inner: Any, on_eof: Callable[[], None]) -> None:
        self._inner = inner
        self._on_eof = on_eof

    @property
    def last_context(self) -> Any:
        return getattr(self._inner, "last_context", None)

    async def receive(self) -> Any:
        try:
            return await self._inner.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            self._on_eof()
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()

    def __aiter__(self) -> EofWatchingStream:
        return self

    async def __anext__(self) -> Any:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None

    async def __aenter__(self) -> EofWatchingStream:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


@asynccontextmanager
async def watch_eof(
    transport: Transport, on_eof: Callable[[], None]
) -> AsyncIterator[tuple[Any, Any]]:
    """`transport`, with its read stream calling `on_eof` when the server side ends."""
    async with transport as (read_stream, write_stream):
        yield EofWatchingStream(read_stream, on_eof), write_stream


class StderrTail:
    """Reads a stdio server's stderr: logs each line and keeps the last few for error causes.

    A crashed server's last words ("ModuleNotFoundError: ...") are what an operator needs.
    """

    KEEP_LINES: Final = 3
    MAX_LINE: Final = 300

    def __init__(self, server_id: str) -> None:
        self._fd, write_fd = os.pipe()
        os.set_blocking(self._fd, False)  # read on the event loop, no thread to strand
        self.writer = os.fdopen(write_fd, "w")
        """Handed to the child as its stderr; ours is closed once the child holds it."""
        self._server_id = server_id
        self._lines: deque[str] = deque(maxlen=self.KEEP_LINES)
        self._done = anyio.Event()
        self._scope = anyio.CancelScope()

    async def pump(self) -> None:
        try:
            with self._scope:
                await self._read_lines()
        except anyio.ClosedResourceError:
            pass  # closed under us at shutdown; what was read is kept
        finally:
            self._done.set()

    async def _read_lines(self) -> None:
        pending = b""
        while self._fd >= 0:
            await anyio.wait_readable(self._fd)
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                break
            *lines, pending = (pending + chunk).split(b"\n")
            for line in lines:
                self._add(line)
            if len(pending) > 65536:  # a line without end must not grow without bound
                self._add(pending)
                pending = b""
        self._add(pending)

    def _add(self, raw: bytes) -> None:
        line = raw.decode(errors="replace").rstrip()
        if line:
            _stderr_logger.info("%s: %s", self._server_id, line)
            self._lines.append(line[: self.MAX_LINE])

    async def finish(self) -> None:
        """After the child is gone: read what is left (briefly), then stop the reader."""
        self.writer.close()
        with anyio.move_on_after(1, shield=True):
            await self._done.wait()
        self._scope.cancel()

    def close(self) -> None:
        self.writer.close()
        fd, self._fd = self._fd, -1
        if fd >= 0:
            anyio.notify_closing(fd)
            os.close(fd)

    @property
    def tail(self) -> str:
        return " | ".join(self._lines)


__all__ = ["EofWatchingStream", "StderrTail", "watch_eof"]
