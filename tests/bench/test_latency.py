"""The latency benchmark runs end to end (real upstream, real portal over HTTP) on tiny counts.

Only that it runs and counts right: no timing is asserted.
"""

from __future__ import annotations

import pytest

from benchmarks.latency import Stats, load_table, measure


@pytest.mark.anyio
async def test_every_scenario_and_load_level_runs_without_errors() -> None:
    rows, loads = await measure(samples=4, runs_each=2, concurrency=(1, 3))
    assert [r.name[:3] for r in rows] == ["(0)", "(a)", "(b)", "(c)", "(d)", "(e)"]
    for row in rows:
        assert row.portal.p50 > 0 and row.direct.p50 > 0
    assert [(level.clients, level.runs, level.errors) for level in loads] == [(1, 2, 0), (3, 6, 0)]
    assert all(level.peak_rss_mb > 10 for level in loads)
    assert "| 3 | 6 |" in load_table(loads)


def test_percentiles() -> None:
    stats = Stats.of([float(x) for x in range(1, 101)])
    assert stats.p50 == 50.5
    assert 94 < stats.p95 < 96
    assert 98 < stats.p99 < 100
