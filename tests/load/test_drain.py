"""SIGTERM to `codemode serve` while code runs are in flight: within the grace period they
finish, their clients get results, new connections are refused at once, and the request log
file holds their rows. Past the grace period the runs are cut, and their rows still say so."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import anyio
import pytest

from benchmarks import load

RUNS = 5
BACKGROUND = 20
EXIT_TIMEOUT_S = 60.0


@pytest.mark.anyio
async def test_sigterm_during_load_drains_runs_in_flight_and_logs_them(tmp_path: Path) -> None:
    with load.serve(tmp_path, grace_s=15) as portal:
        await load.wait_ready(portal)
        drained = await load.drain(
            portal, runs=RUNS, slow_s=1.5, exit_timeout_s=EXIT_TIMEOUT_S, background=BACKGROUND
        )

    assert drained.results == ["ok"] * RUNS
    assert drained.refused.startswith("ConnectError") and "during the drain" in drained.refused
    assert drained.exit_code == 0
    slow = Counter((kind, status) for kind, status, tool, _ in drained.rows if tool == "demo_slow")
    assert slow == {("tool_call", "ok"): RUNS}
    # Every request the other clients got an answer to is in the log; refused ones are not.
    other = Counter(kind for kind, _, tool, _ in drained.rows if tool != "demo_slow")
    busy = drained.background
    assert busy.answered_code_runs > 0
    assert busy.answered_code_runs <= other["code_run"] - RUNS <= busy.code_runs
    assert busy.answered_tool_calls <= other["tool_call"] <= busy.tool_calls


@pytest.mark.anyio
async def test_runs_cut_after_the_grace_period_are_logged_as_cancelled(tmp_path: Path) -> None:
    with load.serve(tmp_path, grace_s=0.5) as portal:
        await load.wait_ready(portal)
        cut = await load.drain(portal, runs=RUNS, slow_s=30, exit_timeout_s=EXIT_TIMEOUT_S)

    assert cut.ok == 0
    assert cut.exit_code == 0
    rows = Counter(cut.rows)
    assert rows == {
        ("code_run", "error", "code", "cancelled"): RUNS,
        ("tool_call", "error", "demo_slow", "cancelled"): RUNS,
    }


@pytest.mark.anyio
async def test_open_notification_streams_do_not_hold_the_drain(tmp_path: Path) -> None:
    """A 2025-era client keeps a GET stream open; with a grace period longer than the wait
    below, the portal still exits once the run in flight is done."""
    grace_s = EXIT_TIMEOUT_S * 2
    with load.serve(tmp_path, grace_s=grace_s) as portal:
        await load.wait_ready(portal)
        async with (
            load.connect(portal.url(load.Surface.ALL), legacy=True) as listener,
            anyio.create_task_group() as tasks,
        ):
            await listener.list_tools()
            tasks.start_soon(anyio.sleep_forever)  # the listener's session stays open
            drained = await load.drain(portal, runs=1, slow_s=1.0, exit_timeout_s=EXIT_TIMEOUT_S)
            tasks.cancel_scope.cancel()

    assert drained.results == ["ok"]
    assert drained.exit_code == 0
