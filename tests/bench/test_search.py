"""The search benchmark: its labelled set, its metrics, and the in-sandbox path, on tiny data."""

from __future__ import annotations

import pytest

from benchmarks.catalogs import merged, portal_view, real_catalog, synthetic_catalog
from benchmarks.ranking import Score, query_ranker, rank_of, substring_ranker
from benchmarks.search import (
    Task,
    TaskSetError,
    check_tasks,
    declared_names,
    load_tasks,
    sandbox_search,
)


def test_labelled_set_covers_every_real_tool_at_least_three_times() -> None:
    tasks = load_tasks()
    view = portal_view(real_catalog())
    check_tasks(tasks, view)
    assert len(tasks) >= 150
    assert len({t.task for t in tasks}) == len(tasks)
    for tool in view.tools:
        assert sum(t.tool == tool.name for t in tasks) >= 2, tool.name


def test_unknown_tool_in_the_set_is_reported_by_name() -> None:
    with pytest.raises(TaskSetError, match="time_nope"):
        check_tasks([Task("x", "time_nope")], portal_view(real_catalog()))


def test_metrics() -> None:
    task = Task("q", "b", also=("c",))
    assert rank_of(["a", "c", "b"], task.accepted) == 2
    assert rank_of(["a"], task.accepted) is None
    score = Score("s", ranks=[1, 2, None, 4])
    assert score.recall(1) == 0.25
    assert score.recall(3) == 0.5
    assert score.mrr == pytest.approx((1 + 0.5 + 0.25) / 4)


def test_substring_baseline_ranks_by_words_found() -> None:
    rank = substring_ranker(portal_view(real_catalog()))
    assert rank("current timezone")[0] == "time_get_current_time"
    assert rank("zzz qqq") == []


@pytest.mark.anyio
async def test_codemode_search_in_the_sandbox_gives_the_query_ranking() -> None:
    view = portal_view(merged(real_catalog(), synthetic_catalog(40)))
    queries = ["what time is it in Tokyo", "list the issues", "make a new folder"]
    answers = await sandbox_search(view, queries, limit=4)
    rank = query_ranker(view, limit=4)
    for query, answer in zip(queries, answers, strict=True):
        assert declared_names(answer, view) == rank(query)
        assert len(rank(query)) >= 1
