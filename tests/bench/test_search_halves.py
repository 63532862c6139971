"""The dev/test split of the labelled search set: recorded, reproducible, every server in both."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from benchmarks.search import (
    HALVES,
    Score,
    Task,
    TaskSetError,
    assign_halves,
    half_score,
    load_tasks,
)


def test_recorded_split_is_the_hash_rule_and_covers_every_server_in_both_halves() -> None:
    tasks = load_tasks()
    assert {t.task: t.half for t in tasks} == assign_halves(tasks)
    per_half = Counter((t.server, t.half) for t in tasks)
    for server in {t.server for t in tasks}:
        dev, test = per_half[(server, "dev")], per_half[(server, "test")]
        assert dev >= 2 and test >= 2 and abs(dev - test) <= 1, (server, dev, test)


def test_split_does_not_depend_on_file_order() -> None:
    tasks = load_tasks()
    assert assign_halves(list(reversed(tasks))) == assign_halves(tasks)


def test_a_task_without_a_split_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "tasks.json"
    path.write_text('[{"task": "what time is it", "tool": "time_get_current_time"}]')
    with pytest.raises(TaskSetError, match="what time is it"):
        load_tasks(path)


def test_subset_keeps_the_ranks_of_one_half() -> None:
    tasks = [Task("a", "x_a", half="dev"), Task("b", "x_b", half="test"), Task("c", "x_c")]
    result = Score("s", ranks=[1, None, 3])
    assert half_score(result, tasks, "dev").ranks == [1, 3]
    assert half_score(result, tasks, "test").ranks == [None]
    assert half_score(result, tasks, "all").ranks == [1, None, 3]
    assert HALVES == ("dev", "test")
