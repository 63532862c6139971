"""A runaway loop runs at background priority, so the event loop and the other clients'
requests keep the CPU they need (figures in benchmarks/results/load.md)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import anyio
import pytest

from sandbox import ErrorKind, Limits, RunResult, Sandbox
from sandbox.priority import RUN_NICE as SANDBOX_NICE

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")


def thread_nices() -> dict[int, int]:
    """Nice value of every thread of this process (/proc/self/task/<tid>/stat, field 19)."""
    out: dict[int, int] = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        out[int(task.name)] = int(fields[16])
    return out


async def never_called(name: str, args: object) -> object:
    raise AssertionError(f"no tool is called, got {name}")


@pytest.mark.anyio
async def test_a_runaway_loop_runs_at_background_priority_and_the_loop_does_not() -> None:
    base = os.getpriority(os.PRIO_PROCESS, 0)
    if base >= SANDBOX_NICE:
        pytest.skip(f"this process already runs at nice {base}")
    sandbox = Sandbox(Limits(cpu_s=2.0, timeout_s=10.0), pool_size=0)
    seen: dict[int, int] = {}
    try:
        async with anyio.create_task_group() as tasks:
            results: list[RunResult] = []

            async def run() -> None:
                results.append(await sandbox.run("while (true) {}", call=never_called, names=[]))

            tasks.start_soon(run)
            for _ in range(100):  # until the loop's thread shows up, at most ~5 s
                await anyio.sleep(0.05)
                seen = thread_nices()
                if SANDBOX_NICE in seen.values():
                    break
    finally:
        sandbox.close()
    assert seen[os.getpid()] == base  # the event loop's thread keeps its priority
    assert SANDBOX_NICE in seen.values()
    assert results[0].error is not None and results[0].error.kind is ErrorKind.CPU
