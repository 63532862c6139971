"""The threads that pump runs: normal priority until a run proves long, then retired.

A thread at a low priority that the kernel preempts while it holds the GIL stalls every thread
of the process, the event loop included; runs pumped on threads kept at nice 10 from the start
cost a portal under load ~9% of its throughput that way (`benchmarks/results/hotpath.md`). Yet
a runaway loop must run below the event loop and the upstream processes, or two of them more
than double everyone else's p95 (`benchmarks/results/load.md`).

So a run starts at the thread's normal priority, and `demote_if_long` (called on the running
thread at each epoch tick of its JavaScript) lowers the thread to `RUN_NICE` once the run has
used `DEMOTE_AFTER_S` of CPU, which ordinary runs never reach. An unprivileged process cannot
raise a thread's priority again, so a lowered thread ends when its job returns, instead of
serving the next run at background priority; a new one takes its place on demand.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, TypeVar

from sandbox.priority import RUN_NICE, lower_this_thread

T = TypeVar("T")

DEMOTE_AFTER_S = 0.01
"""CPU a run uses before its thread drops to `RUN_NICE` (a run with a few calls uses ~1-2 ms)."""

_state = threading.local()


def demote_if_long(cpu_used_s: float) -> None:
    """On the thread running JavaScript: lower it once its run has used `DEMOTE_AFTER_S`.

    Only a `RunThreads` thread is lowered, since only it is retired afterwards; any other
    thread that drives a run (a test's, an embedder's) keeps its priority."""
    if (
        cpu_used_s >= DEMOTE_AFTER_S
        and getattr(_state, "retirable", False)
        and not getattr(_state, "demoted", False)
    ):
        _state.demoted = True
        lower_this_thread(RUN_NICE)


def demoted() -> bool:
    """Whether this thread was lowered (it is then retired after its current job)."""
    return bool(getattr(_state, "demoted", False))


class RunThreads(Executor):
    """At most `max_threads` threads taking jobs in order; a demoted one ends after its job.

    Jobs beyond `max_threads` running at once wait in the queue, as with
    `ThreadPoolExecutor`; `shutdown` lets running jobs finish and, with `cancel_futures`,
    cancels the queued ones.
    """

    def __init__(self, max_threads: int, name: str) -> None:
        if max_threads < 1:
            raise ValueError("max_threads must be at least 1")
        self._max = max_threads
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = (
            queue.SimpleQueue()
        )
        self._lock = threading.Lock()
        self._threads = 0
        self._idle = 0
        self._made = 0
        self._closed = False
        self._alive: set[threading.Thread] = set()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new jobs after shutdown")
            self._jobs.put((future, lambda: fn(*args, **kwargs)))
            if self._idle > 0:
                self._idle -= 1  # that thread takes this job
            elif self._threads < self._max:
                self._start_thread()
        return future

    def _start_thread(self) -> None:
        self._threads += 1
        self._made += 1
        thread = threading.Thread(target=self._work, name=f"{self._name}_{self._made}", daemon=True)
        self._alive.add(thread)
        thread.start()

    def _work(self) -> None:
        _state.retirable = True
        while True:
            item = self._jobs.get()
            if item is None:  # shutdown
                with self._lock:
                    self._retire()
                self._jobs.put(None)  # for the next thread
                return
            future, job = item
            value: Any = None
            error: BaseException | None = None
            run = future.set_running_or_notify_cancel()
            if run:
                try:
                    value = job()
                except BaseException as exc:
                    error = exc
            # Counted idle (or retired) before the caller hears of the result, so the run it
            # submits next finds this thread free rather than starting another.
            with self._lock:
                retiring = demoted() or self._closed
                if retiring:
                    self._retire()
                    if not self._closed and not self._jobs.empty() and self._idle == 0:
                        self._start_thread()  # a job queued behind this one gets a thread
                else:
                    self._idle += 1
            if run:
                if error is None:
                    future.set_result(value)
                else:
                    future.set_exception(error)
            del item, future, job, value, error
            if retiring:
                return

    def _retire(self) -> None:
        self._threads -= 1
        self._alive.discard(threading.current_thread())

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            if cancel_futures:
                while True:
                    try:
                        item = self._jobs.get_nowait()
                    except queue.Empty:
                        break
                    if item is not None:
                        item[0].cancel()
            self._jobs.put(None)
            alive = list(self._alive)
        if wait:
            for thread in alive:
                thread.join()

    @property
    def threads(self) -> int:
        """Threads serving jobs now (running one or idle)."""
        return self._threads

    def native_ids(self) -> list[int]:
        """The kernel's ids of those threads (for /proc, e.g. their nice values)."""
        with self._lock:
            return [t.native_id for t in self._alive if t.native_id is not None]
