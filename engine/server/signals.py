"""Ctrl-C (SIGINT) and SIGTERM for the whole life of a codemode process.

A process that runs portals must stop cleanly wherever a signal lands: before the event loop
runs, while upstream servers connect, while uvicorn starts, while it drains, while the
gateway closes. `Stop` is the process's one handler for both signals from the first line of
the command to its end; `run` runs a command on an event loop under it.

SIGHUP is not a stop signal: `Hangup` makes it ask `codemode serve` to re-read its config
(`engine.server.serve.reload_config`), as daemons conventionally do.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from types import FrameType

import anyio

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
RELOAD_SIGNAL = signal.SIGHUP


@dataclass
class Stop:
    """The first signal asks the command to stop; the ones after it are noted.

    Before the event loop runs, `handle` raises KeyboardInterrupt (nothing is running that
    needs closing); while the loop runs it only schedules `_deliver` on the loop, so no
    exception is ever raised inside asyncio or a cleanup; once the command has cleaned up it
    only notes the signal. Every signal is noted at once, so one that comes too late to be
    delivered still decides the exit code."""

    signal: int | None = None
    scope: anyio.CancelScope | None = None
    """Around the command, once the loop runs."""
    on_signal: Callable[[int], None] | None = None
    """Set by a server to stop gracefully (drain) instead of cancelling."""
    loop: asyncio.AbstractEventLoop | None = None
    done: bool = False
    interrupted: bool = False
    """A SIGINT came (first or not): an interruption, even if SIGTERM began the stop."""

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
        """Be the process's SIGINT/SIGTERM handler; put the previous ones back afterwards if
        `restore` (a caller in the same process, e.g. a test, goes on after us)."""
        previous = {sig: signal.signal(sig, self.handle) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            self.done = True
            if restore:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)


@dataclass
class Hangup:
    """SIGHUP asks a running server to reload; it never stops anything.

    The handler only schedules the reload on the event loop (never inside a cleanup or in
    the middle of a request). One that comes before the server listens (while upstream
    servers connect) is kept and delivered as soon as it does, so an edit made during
    start-up is not lost; installed, SIGHUP no longer ends the process."""

    callback: Callable[[], object] | None = None
    loop: asyncio.AbstractEventLoop | None = None
    pending: bool = False

    def handle(self, signum: int, frame: FrameType | None) -> None:
        loop = self.loop
        if loop is None:
            self.pending = True
            return
        with contextlib.suppress(RuntimeError):  # the loop closed as the signal came
            loop.call_soon_threadsafe(self._deliver)

    def _deliver(self) -> None:
        if self.callback is not None:
            self.callback()

    def listen(self, callback: Callable[[], object]) -> None:
        """Call `callback()` on this event loop for each SIGHUP from now on (and once now
        for one that came before)."""
        self.callback = callback
        self.loop = asyncio.get_running_loop()
        if self.pending:
            self.pending = False
            self.loop.call_soon(self._deliver)

    @contextlib.contextmanager
    def installed(self) -> Generator[Hangup, None, None]:
        """Be the process's SIGHUP handler; the previous one is back afterwards."""
        previous = signal.signal(RELOAD_SIGNAL, self.handle)
        try:
            yield self
        finally:
            self.callback, self.loop = None, None
            signal.signal(RELOAD_SIGNAL, previous)


def run(command: Callable[[], Awaitable[int]], stop: Stop) -> int | None:
    """Run `command` on a new event loop under `stop`: its exit code, or None when a signal
    stopped it before it returned one."""
    try:
        return anyio.run(_supervised, command, stop)
    except BaseExceptionGroup as group:
        raise only_exception(group) from None


async def _supervised(command: Callable[[], Awaitable[int]], stop: Stop) -> int | None:
    stop.scope = anyio.CancelScope()
    stop.loop = asyncio.get_running_loop()
    try:
        if stop.signal is not None:  # came while the loop started: nothing to cancel yet
            return None
        with stop.scope:
            return await command()
        return None
    finally:
        stop.done = True
        stop.loop = None


def only_exception(exc: BaseException) -> BaseException:
    """The one exception inside nested single-member exception groups (from task groups)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
