"""The threads that pump runs (sandbox/threads.py): normal priority for ordinary runs, lowered
for a long one, which then ends with its job instead of serving the next run."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import ErrorKind, Limits, Sandbox
from sandbox.priority import RUN_NICE
from sandbox.threads import RunThreads


def nice_of(thread_id: int) -> int:
    fields = (Path("/proc/self/task") / str(thread_id) / "stat").read_text().rsplit(")", 1)[1]
    return int(fields.split()[16])


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_jobs_run_in_order_on_at_most_max_threads_and_errors_reach_the_caller() -> None:
    threads = RunThreads(2, "t")
    release = threading.Event()
    try:
        blocked = [threads.submit(release.wait, 10) for _ in range(4)]
        wait_until(lambda: threads.threads == 2)
        time.sleep(0.1)
        assert threads.threads == 2 and not any(f.done() for f in blocked)
        release.set()
        assert [f.result(timeout=10) for f in blocked] == [True] * 4
        assert threads.submit(lambda a, b: a + b, 2, b=3).result(timeout=10) == 5
        with pytest.raises(ZeroDivisionError):
            threads.submit(lambda: 1 / 0).result(timeout=10)
        assert threads.threads == 2  # the idle threads serve the later jobs
    finally:
        threads.shutdown(wait=True)
    assert threads.threads == 0
    with pytest.raises(RuntimeError):
        threads.submit(print)


def test_shutdown_can_cancel_the_jobs_still_queued() -> None:
    threads = RunThreads(1, "t")
    release = threading.Event()
    running = threads.submit(release.wait, 10)
    queued = threads.submit(lambda: "never")
    threads.shutdown(wait=False, cancel_futures=True)
    release.set()
    assert running.result(timeout=10) is True
    assert queued.cancelled()


async def echo(name: str, args: object) -> object:
    return args


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")
@pytest.mark.anyio
async def test_ordinary_runs_keep_their_thread_at_normal_priority_a_long_one_retires_it() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base >= RUN_NICE:
        pytest.skip(f"this process already runs at nice {base}")
    box = Sandbox(Limits(cpu_s=0.3, timeout_s=10.0), pool_size=0, max_threads=4)
    try:
        for _ in range(3):
            result = await box.run("return await codemode.echo({a: 1})", call=echo, names=["echo"])
            assert result.error is None and result.value == {"a": 1}
        assert box._threads.threads == 1  # one thread served the three runs
        (pump_thread,) = box._threads.native_ids()
        assert nice_of(pump_thread) == base

        runaway = await box.run("while (true) {}", call=echo, names=["echo"])
        assert runaway.error is not None and runaway.error.kind is ErrorKind.CPU
        # the lowered thread ends with its run
        wait_until(lambda: all(t.native_id != pump_thread for t in threading.enumerate()))
        assert box._threads.threads == 0

        after = await box.run("return await codemode.echo({b: 2})", call=echo, names=["echo"])
        assert after.error is None and after.value == {"b": 2}
        (fresh,) = box._threads.native_ids()
        assert fresh != pump_thread and nice_of(fresh) == base
    finally:
        box.close()
