"""`codemode serve` tunes the garbage collector once it serves (engine/cli/gc_policy.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from engine.cli import commands
from engine.cli.gc_policy import YOUNG_THRESHOLD


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_serving_freezes_start_up_objects_and_raises_the_young_threshold(
    restored_gc: None, capsys: pytest.CaptureFixture[str]
) -> None:
    built_at_start_up = [object(), {"a": [1, 2]}]
    assert gc.get_freeze_count() == 0
    commands._serving(["http://127.0.0.1:1/mcp"])
    assert capsys.readouterr().out == "http://127.0.0.1:1/mcp\n"
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    assert gc.get_freeze_count() > 0
    # what start-up built is no longer walked by the collector
    assert not any(o is built_at_start_up for o in gc.get_objects())
    # while what is made afterwards still is, so its cycles are collected
    cycle: list[object] = []
    cycle.append(cycle)
    assert gc.is_tracked(cycle)
    assert any(o is cycle for o in gc.get_objects())
