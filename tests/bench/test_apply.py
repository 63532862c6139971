"""`benchmarks.apply`: its rounds really add and remove a server, and the table shows each step."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.apply import measure, report

pytestmark = pytest.mark.anyio


async def test_two_rounds_time_every_step_and_the_table_shows_them(tmp_path: Path) -> None:
    timings = await measure(tmp_path, rounds=2)
    assert set(timings) == {"apply (add)", "first sync", "apply (remove)"}
    assert all(len(values) == 2 and min(values) > 0 for values in timings.values())
    assert (tmp_path / "two.pid").exists()  # the added server's process really ran
    table = report(timings)
    assert "| apply (add) |" in table and "| apply (remove) |" in table
