"""The external-set search benchmark (sets 2 and 3) on a tiny set written here: loading, the
mapping of labels to client names, the distractors, and the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import search_external
from benchmarks.catalogs import portal_view, synthetic_catalog
from benchmarks.search_external import (
    ExternalSetError,
    accepted_names,
    load_catalog,
    load_tasks,
    measure,
    measure_if_present,
    render,
    with_distractors,
)

CATALOG = [
    {
        "server": "weather",
        "tools": [
            {
                "name": "get_forecast",
                "description": "Weather forecast for a city for the next days",
                "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
            {
                "name": "get_alerts",
                "description": "Active storm and flood alerts for a US state",
                "inputSchema": {"type": "object", "properties": {"state": {"type": "string"}}},
            },
        ],
    },
    {
        "server": "coin-flip",
        "tools": [
            {
                "name": "problem",
                "description": "Fetch a LeetCode problem statement by its slug",
                "inputSchema": {"type": "object", "properties": {"slug": {"type": "string"}}},
            }
        ],
    },
]


def write_set(root: Path, tasks: list[dict[str, object]]) -> Path:
    (root / "catalog.json").write_text(json.dumps(CATALOG))
    (root / "tasks.json").write_text(json.dumps(tasks))
    return root


TASKS: list[dict[str, object]] = [
    {
        "id": "t1",
        "question": "Will it rain in Paris over the next days? Give me the forecast.",
        "relevant": [["weather", "get_forecast"]],
    },
    {
        "id": "t2",
        "question": "Read the LeetCode problem two-sum and summarise it.",
        "relevant": [["coin-flip", "problem"], ["weather", "get_alerts"]],
    },
]


def test_labels_map_to_the_client_names_of_the_view(tmp_path: Path) -> None:
    root = write_set(tmp_path, TASKS)
    view = portal_view(load_catalog(root))
    tasks = load_tasks(root)
    assert accepted_names(tasks[1], view) == {"coin-flip_problem", "weather_get_alerts"}


def test_a_label_the_catalog_lacks_is_reported_by_name(tmp_path: Path) -> None:
    root = write_set(tmp_path, [{"id": "t9", "question": "q", "relevant": [["weather", "nope"]]}])
    view = portal_view(load_catalog(root))
    with pytest.raises(ExternalSetError, match=r"t9.*weather/nope"):
        accepted_names(load_tasks(root)[0], view)


def test_a_task_without_labels_is_refused(tmp_path: Path) -> None:
    root = write_set(tmp_path, [{"id": "t3", "question": "q", "relevant": []}])
    with pytest.raises(ExternalSetError, match="t3"):
        load_tasks(root)


def test_distractors_keep_both_servers_when_ids_clash(tmp_path: Path) -> None:
    catalog = load_catalog(write_set(tmp_path, TASKS))
    synthetic = synthetic_catalog(200)
    assert "weather" in synthetic, "the clash this test is about must exist"
    crowded = with_distractors(catalog, 200)
    assert crowded["weather"] == catalog["weather"]
    assert crowded["weather-synthetic"] == synthetic["weather"]
    assert sum(len(t) for t in crowded.values()) == 3 + 200


def test_measure_and_render(tmp_path: Path) -> None:
    root = write_set(tmp_path, TASKS)
    report = measure(root, distractors=50)
    small, crowded = report.sets
    assert (small.tools, crowded.tools) == (3, 53)
    assert small.query.ranks[0] == 1, "the forecast request must find the forecast tool first"
    assert all(r is not None for r in small.query.ranks)
    text = "\n".join(render(report, root))
    assert "| (2) LiveMCPBench catalog | `query` (PortalView.search) | 3 |" in text
    assert "| (3) same + 50 synthetic |" in text


def test_missing_set_is_said_not_measured(tmp_path: Path) -> None:
    assert measure_if_present(tmp_path) is None
    assert "Not measured" in "\n".join(search_external.render(None, tmp_path))
