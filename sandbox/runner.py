"""`Sandbox`: the async API. One fresh guest per run, driven off the event loop."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

import anyio

from sandbox import report
from sandbox.drive import Call, Driver, Mailbox, Settlement, Step
from sandbox.errors import ToolError
from sandbox.guest import Guest
from sandbox.limits import Limits
from sandbox.pool import GuestPool
from sandbox.result import HostCall, LogEntry, RunResult
from sandbox.threads import RunThreads
from sandbox.wasm import shared_module

log = logging.getLogger("codemode.sandbox")


class Sandbox:
    """Runs agent JavaScript, each run in its own QuickJS-in-wasmtime instance.

    The wasm module is compiled once per process (and cached on disk); `pool_size` guests are
    kept initialised in the background so a run starts without paying instantiation.
    """

    def __init__(
        self, limits: Limits | None = None, *, pool_size: int = 4, max_threads: int = 64
    ) -> None:
        self.limits = limits or Limits()
        self._wasm = shared_module()
        self._pool = GuestPool(self._wasm, self.limits, pool_size)
        # Its own threads, so lowering their priority touches no other work of the process.
        self._threads = RunThreads(max_threads, "codemode-sandbox")

    async def run(
        self,
        code: str,
        *,
        call: HostCall,
        names: Iterable[str],
        limits: Limits | None = None,
        on_log: Callable[[LogEntry], None] | None = None,
        unknown_hint: str = "",
    ) -> RunResult:
        """Run `code`; `codemode.<name>(args)` for each of `names` calls `call(name, args)`.

        Never raises for anything the code does: failures come back as `RunResult.error`.
        `on_log` receives console output as it happens (on the event loop's thread).
        `unknown_hint` is added to the TypeError for a name not in `names` (e.g. which
        servers are unavailable right now).
        """
        limits = limits or self.limits
        started = time.perf_counter()
        if len(code.encode("utf-8", "surrogatepass")) > limits.max_code_bytes:
            return RunResult(
                error=report.limit(
                    f"the code is {len(code)} characters; the limit is "
                    f"{limits.max_code_bytes} bytes. Send less code per run."
                )
            )
        run = _Run(self, code, call, sorted(set(names)), limits, on_log, unknown_hint)
        result = await run.execute(started)
        result.duration_ms = (time.perf_counter() - started) * 1000
        return result

    def take_guest(self, limits: Limits) -> Guest:
        return self._pool.take(limits)

    def run_ended(self) -> None:
        self._pool.refill()

    def close(self) -> None:
        self._pool.close()
        self._threads.shutdown(wait=False, cancel_futures=True)


class _Run:
    """One execution: owns the guest, the host-call tasks and the hand-offs between threads."""

    def __init__(
        self,
        sandbox: Sandbox,
        code: str,
        call: HostCall,
        names: list[str],
        limits: Limits,
        on_log: Callable[[LogEntry], None] | None,
        unknown_hint: str,
    ) -> None:
        self.sandbox = sandbox
        self.unknown_hint = unknown_hint
        self.code = code
        self.call = call
        self.names = names
        self.limits = limits
        self.on_log = on_log
        self.loop = asyncio.get_running_loop()
        # The caller's context variables (e.g. the current trace span) hold in its calls too:
        # calls are spawned from the driver's thread, whose own context is empty.
        self.context = contextvars.copy_context()
        self.results_ready = asyncio.Event()
        self.mailbox = Mailbox(self.results_ready.set)
        self.slots = asyncio.Semaphore(limits.max_concurrent_calls)
        self.tasks: set[asyncio.Task[None]] = set()
        self.running = 0
        self.ready: list[Settlement] = []
        self.flush_scheduled = False
        self.finished = False

    async def execute(self, started: float) -> RunResult:
        driver = Driver(
            lambda: self.sandbox.take_guest(self.limits),
            self.code,
            self.names,
            self.limits,
            self.mailbox,
            self._dispatch_threadsafe,
            self._log_threadsafe if self.on_log else None,
            unknown_hint=self.unknown_hint,
        )
        try:
            while True:
                # Cancelling this await abandons the thread; `driver.finish()` stops it.
                step = await self.loop.run_in_executor(self.sandbox._threads, driver.pump)
                if step is Step.DONE:
                    break
                await self._wait_for_results(driver)
        finally:
            self.finished = True
            driver.finish()
            await self._cancel_calls()
            self.sandbox.run_ended()
        return RunResult(
            value=driver.value if driver.error is None else None,
            logs=driver.logs,
            error=driver.error,
            calls=driver.calls,
            startup_ms=max(driver.first_instruction_at - started, 0.0) * 1000,
        )

    async def _wait_for_results(self, driver: Driver) -> None:
        remaining = driver.deadline - time.perf_counter()
        self.results_ready.clear()
        if driver.resume_ready() or remaining <= 0:
            return
        with anyio.move_on_after(remaining):
            await self.results_ready.wait()

    async def _cancel_calls(self) -> None:
        """Cancel calls still running (started but never awaited, or cut off by an error)."""
        pending = [task for task in self.tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            with anyio.CancelScope(shield=True):
                await asyncio.wait(pending)

    # -- called from the driver's thread ------------------------------------------------------

    def _dispatch_threadsafe(self, calls: list[Call]) -> None:
        self.loop.call_soon_threadsafe(self._spawn, calls)

    def _log_threadsafe(self, entry: LogEntry) -> None:
        if self.on_log is not None:
            self.loop.call_soon_threadsafe(self.on_log, entry)

    # -- on the event loop --------------------------------------------------------------------

    def _spawn(self, calls: list[Call]) -> None:
        # Plain asyncio tasks, not a task group: a bridge round must stay cheap, and
        # `_cancel_calls` gives the same guarantee that none outlives the run.
        if self.finished:
            return
        self.running += len(calls)
        for call in calls:
            task = self.loop.create_task(self._call_one(call), context=self.context.copy())
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _call_one(self, call: Call) -> None:
        settlement = await self._settlement(call)
        self.running -= 1
        self.ready.append(settlement)
        # Results finishing in the same loop iteration cross to the driver as one batch (one
        # wake-up, one settle round); the last call of a batch never waits for that.
        if self.running == 0:
            self._flush()
        elif not self.flush_scheduled:
            self.flush_scheduled = True
            self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        self.flush_scheduled = False
        if self.ready:
            batch, self.ready = self.ready, []
            self.mailbox.put(batch)

    async def _settlement(self, call: Call) -> Settlement:
        async with self.slots:
            try:
                value = await self.call(call.name, call.args)
            except ToolError as exc:
                return (call.id, False, _tool_error(exc))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.exception("host call %s failed", call.name)
                message = f"codemode.{call.name} failed inside the host ({type(exc).__name__})"
                return (call.id, False, {"message": message, "retryable": False})
            return (call.id, True, value)


def _tool_error(exc: ToolError) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "message": exc.message,
        "retryable": exc.retryable,
        "name": exc.name,
    }
    if exc.code is not None:
        payload["code"] = exc.code
    return payload
