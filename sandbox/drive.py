"""The per-run loop that drives one guest: the pull bridge (docs/design.md, "The bridge").

`Driver.pump` runs on a worker thread (wasm calls block their thread). Each round it runs the
guest's pending jobs, collects queued `codemode.*` calls, logs and the outcome in one call,
hands new calls to the event loop, waits for host results and settles them in one call. When
results are slow to come it returns `PARKED` so the thread is freed while upstreams work.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto
from typing import Any

from sandbox import report
from sandbox.errors import SandboxError
from sandbox.guest import Guest
from sandbox.limits import Limits
from sandbox.quickjs import EVAL_ASYNC, EVAL_GLOBAL, TAG_EXCEPTION, Interrupted, Trapped
from sandbox.result import LogEntry
from sandbox.shape import AGENT_FILE, Prepared, as_function_body, as_script, needs_function_body
from sandbox.threads import demote_if_long

log = logging.getLogger("codemode.sandbox")

PARK_AFTER_S = 0.02
"""Wait this long on a worker thread for host results before handing the thread back."""


@dataclass(frozen=True, slots=True)
class Call:
    id: int
    name: str
    args: Any


Settlement = tuple[int, bool, Any]
"""(call id, ok, value or {message, retryable, code})."""


class Step(Enum):
    DONE = auto()
    PARKED = auto()


class Mailbox:
    """Batches of host results travelling from the event loop to the driver's thread."""

    def __init__(self, on_put: Callable[[], None]) -> None:
        self._queue: queue.SimpleQueue[list[Settlement]] = queue.SimpleQueue()
        self._on_put = on_put

    def put(self, batch: list[Settlement]) -> None:
        self._queue.put(batch)
        self._on_put()

    def get(self, timeout: float) -> list[Settlement]:
        """The next batch, waiting up to `timeout`; empty if none came."""
        try:
            return self._queue.get(timeout=max(timeout, 0.0))
        except queue.Empty:
            return []

    def drain(self) -> list[Settlement]:
        items: list[Settlement] = []
        while True:
            try:
                items.extend(self._queue.get_nowait())
            except queue.Empty:
                return items

    def empty(self) -> bool:
        return self._queue.empty()


class Driver:
    def __init__(
        self,
        take_guest: Callable[[], Guest],
        code: str,
        names: list[str],
        limits: Limits,
        mailbox: Mailbox,
        dispatch: Callable[[list[Call]], None],
        on_log: Callable[[LogEntry], None] | None,
        *,
        unknown_hint: str = "",
    ) -> None:
        self.unknown_hint = unknown_hint
        self._take_guest = take_guest
        self._guest: Guest | None = None
        self._lock = threading.Lock()
        self._pumping = False
        self.code = code
        self.names = names
        self.allowed = frozenset(names)
        self.limits = limits
        self.mailbox = mailbox
        self.dispatch = dispatch
        self.on_log = on_log
        self.deadline = time.perf_counter() + limits.timeout_s
        self.cpu_used = 0.0
        self._section_start = 0.0
        self.cancelled = False
        self.started = False
        self.in_flight = 0
        self.calls = 0
        self.logs: list[LogEntry] = []
        self.value: Any = None
        self.error: SandboxError | None = None
        self.prepared = as_script(code)
        self.first_instruction_at = 0.0

    @property
    def guest(self) -> Guest:
        assert self._guest is not None, "pump() takes the guest first"
        return self._guest

    # -- interruption (called from the epoch callback on the running thread) -----------------

    def _should_stop(self) -> str | None:
        if self.cancelled:
            return "cancelled"
        if time.perf_counter() > self.deadline:
            return "timeout"
        cpu = self.cpu_used + time.thread_time() - self._section_start
        if cpu > self.limits.cpu_s:
            return "cpu"
        demote_if_long(cpu)
        return None

    # -- the loop -----------------------------------------------------------------------------

    def pump(self) -> Step:
        """Advance the run as far as possible on this thread."""
        with self._lock:
            if self.cancelled:
                return Step.DONE
            self._pumping = True
        self._section_start = time.thread_time()
        try:
            if not self.started:
                self.started = True
                self._guest = self._take_guest()
                self._guest.js.should_stop = self._should_stop
                if not self._start():
                    return Step.DONE
            return self._rounds()
        except Interrupted as exc:
            self.error = report.interrupted(str(exc), self.limits)
        except Trapped as exc:
            self.error = report.trap_error(str(exc), self.limits)
        except Exception:  # a bug of ours: log it for the operator, tell the agent plainly
            log.exception("sandbox driver failed")
            self.error = report.internal("the sandbox failed internally; the run was stopped")
        finally:
            self.cpu_used += time.thread_time() - self._section_start
            with self._lock:
                self._pumping = False
                if self.cancelled:
                    self._close_guest()
        return Step.DONE

    def finish(self) -> None:
        """End the run from the event loop: the guest is closed now, or by a thread still
        pumping (abandoned on cancellation) as soon as the epoch callback stops it."""
        with self._lock:
            self.cancelled = True
            if not self._pumping:
                self._close_guest()

    def _close_guest(self) -> None:
        if self._guest is not None:
            self._guest.close()

    def _start(self) -> bool:
        js = self.guest.js
        self.guest.configure(self.names, self.limits, self.unknown_hint)
        prepared = as_script(self.code)
        self.first_instruction_at = time.perf_counter()
        promise = js.eval(prepared.source, AGENT_FILE, EVAL_GLOBAL | EVAL_ASYNC)
        if promise.tag == TAG_EXCEPTION:
            info = js.exception_info()
            if info.get("name") == "SyntaxError" and needs_function_body(info.get("message", "")):
                prepared = as_function_body(self.code)
                promise = js.eval(prepared.source, AGENT_FILE, EVAL_GLOBAL)
                if promise.tag == TAG_EXCEPTION:
                    return self._eval_failed(js.exception_info(), prepared)
            else:
                return self._eval_failed(info, prepared)
        self.prepared = prepared
        with promise:
            self.guest.start(promise.value, int(prepared.mode))
        return True

    def _eval_failed(self, info: dict[str, str], prepared: Prepared) -> bool:
        if info.get("name") == "SyntaxError":
            self.error = report.syntax_error(info, prepared)
        else:  # a synchronous throw while the script body ran
            self.error = report.thrown_error(info, prepared, self.limits)
        return False

    def _rounds(self) -> Step:
        while True:
            self.guest.js.run_jobs()
            if self._collect():
                return Step.DONE
            batch = self.mailbox.drain()
            if not batch:
                if self.in_flight == 0:
                    self.error = report.deadlock()
                    return Step.DONE
                batch = self.mailbox.get(min(PARK_AFTER_S, self.deadline - time.perf_counter()))
                if not batch:
                    if time.perf_counter() > self.deadline:
                        self.error = report.interrupted("timeout", self.limits)
                        return Step.DONE
                    return Step.PARKED
                batch.extend(self.mailbox.drain())
            self._settle(batch)

    def resume_ready(self) -> bool:
        return not self.mailbox.empty()

    # -- guest -> host ------------------------------------------------------------------------

    def _collect(self) -> bool:
        """Take new calls, logs and the outcome from the guest; True once the run is over."""
        raw = self.guest.collect()
        if raw is None:
            return False
        message = json.loads(raw)
        for level, text in message["l"]:
            self._log(LogEntry(level, text))
        calls = [Call(int(i), str(n), a) for i, n, a in message["c"]]
        if calls:
            self._dispatch(calls)
        outcome = message.get("o")
        if outcome is None:
            return False
        if outcome["ok"]:
            self.value = outcome.get("value")
        else:
            self.error = report.thrown_error(outcome["error"], self.prepared, self.limits)
        return True

    def _dispatch(self, calls: list[Call]) -> None:
        for call in calls:
            if call.name not in self.allowed:  # the prelude never queues these; defence in depth
                raise Trapped(f"guest queued a call to a name it was not given: {call.name!r}")
        self.calls += len(calls)
        self.in_flight += len(calls)
        self.dispatch(calls)

    def _log(self, entry: LogEntry) -> None:
        self.logs.append(entry)
        if self.on_log is not None:
            self.on_log(entry)

    # -- host -> guest ------------------------------------------------------------------------

    def _settle(self, batch: list[Settlement]) -> None:
        self.in_flight -= len(batch)
        self.guest.settle("[" + ",".join(_settlement_json(*item) for item in batch) + "]")


def _settlement_json(call_id: int, ok: bool, payload: Any) -> str:
    try:
        return f"[{call_id},{1 if ok else 0},{json.dumps(payload, allow_nan=False)}]"
    except (TypeError, ValueError) as exc:
        problem = {"message": f"the tool returned a value that is not JSON ({exc})"}
        return f"[{call_id},0,{json.dumps(problem)}]"
