"""The scaling benchmark's machinery on a tiny configuration: real `codemode serve` with 1 and
2 workers (SQLite in WAL mode, mcp-server-time over stdio), the real multi-process load
generator posting a few dozen 2026-07-28 `tools/call`s. Counts only, never timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import loadgen, scale
from benchmarks.loadgen import Shot

REQUESTS = 40
CONNECTIONS = 16  # spread over 2 workers by the kernel's hash: all on one is 1 in 2^15
BOUND_S = 120.0  # the shot ends by count; this only bounds a hung run


@pytest.mark.parametrize("workers", [1, 2])
def test_the_load_generator_gets_every_call_answered_by_every_worker(
    tmp_path: Path, workers: int
) -> None:
    layout = scale.Layout(f"{workers} workers", workers, 0)
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'codemode.db'}"
    with scale.deploy(layout, tmp_path / "portal", database_url) as deployment:
        shot = Shot(deployment.url, scale.TOOL, scale.ARGUMENTS, CONNECTIONS, BOUND_S, REQUESTS)
        before = scale.cpu_by_role(deployment.roots)
        outcome = loadgen.fire(shot)
        after = scale.cpu_by_role(deployment.roots)
        unknown = loadgen.fire(Shot(deployment.url, "no_such_tool", {}, 2, BOUND_S, 4))

    assert (outcome.errors, outcome.error_samples) == (0, [])
    assert outcome.calls == REQUESTS
    expected = {"-"} if workers == 1 else {"1", "2"}
    assert set(outcome.workers) == expected, outcome.workers
    assert sum(outcome.workers.values()) == REQUESTS
    # The portal and its stdio upstream were found and did work during the shot.
    assert after["portal"] > before["portal"] and after["upstream"] > before["upstream"]
    # A failed call is counted as an error, not as a call.
    assert (unknown.calls, unknown.errors) == (0, 4), unknown.error_samples
