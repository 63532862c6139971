"""50 MCP clients on every surface at once, with hostile ones among them, against a real
`codemode serve` process: the well-behaved clients see no error, the hostile ones get their
typed errors, the process does not grow, and the request log on disk holds one row per
upstream call and per code run. Bounded: every client stops at a deadline and after a fixed
number of requests. Speed is measured in benchmarks/load.py, not asserted here."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from benchmarks import load
from engine.upstream import UPSTREAM_IDLE_CONNECTIONS

GOOD = 50
HOSTILE = 4
SECONDS = 12.0
WARMUP_S = 4.0
EXIT_TIMEOUT_S = 60.0

# Generous: a leak per session or per run over hundreds of them shows far beyond these.
RSS_GROWTH = 1.25
EXTRA_FDS = UPSTREAM_IDLE_CONNECTIONS + 4
"""The demo's idle pooled connections may number anywhere from 0 to the bound at either
measurement (httpx drops expired ones only when the pool is next used)."""
MAX_THREADS = 128
"""Sandbox threads (at most 64), anyio's worker threads (at most 40) and a handful of fixed
ones; a thread per run or per session would pass this within one phase."""

SURFACE_OPS = {"tools/list", "direct", "query", "execute", "code", "hostile"}


@pytest.mark.anyio
async def test_many_clients_with_hostile_ones_get_answers_and_nothing_is_lost(
    tmp_path: Path,
) -> None:
    with load.serve(tmp_path, grace_s=10) as portal:
        await load.wait_ready(portal)
        warmup = await load.drive(portal, good=GOOD, hostile=HOSTILE, seconds=WARMUP_S)
        await anyio.sleep(1.0)
        start = load.proc_stats(portal.pid)
        main = await load.drive(portal, good=GOOD, hostile=HOSTILE, seconds=SECONDS)
        await anyio.sleep(1.0)
        end = load.proc_stats(portal.pid)
        exit_code = await anyio.to_thread.run_sync(portal.terminate, EXIT_TIMEOUT_S)
        on_disk = load.logged(portal.log_path)

    for phase in (warmup, main):
        assert phase.errors == [], phase.errors[:5]
        assert phase.hostile_unexpected == [], phase.hostile_unexpected[:5]
    assert set(main.ops) >= SURFACE_OPS, main.ops
    assert main.hostile_kinds.keys() == {"cpu", "memory"}, main.hostile_kinds

    assert end.rss_mb <= start.rss_mb * RSS_GROWTH, (start, end)
    assert end.fds <= start.fds + EXTRA_FDS, (start, end)
    assert end.threads <= MAX_THREADS, (start, end)

    assert exit_code == 0
    tool_calls = warmup.tool_calls + main.tool_calls
    code_runs = warmup.code_runs + main.code_runs
    assert on_disk == {"tool_call": tool_calls, "code_run": code_runs}
