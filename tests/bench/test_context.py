"""The context benchmark measures what tools/list returns, on tiny catalogs."""

from __future__ import annotations

import json

from benchmarks.catalogs import portal_view, real_catalog, synthetic_catalog
from benchmarks.context import measure, reductions, render, targets, tools_list_json
from engine.surfaces import Surface, list_tools


def test_measured_json_is_the_tools_list_payload() -> None:
    view = portal_view(synthetic_catalog(3))
    payload = json.loads(tools_list_json(list_tools(Surface.ALL, view)))
    assert [t["name"] for t in payload["tools"]] == [t.name for t in view.tools]
    assert all("inputSchema" in t for t in payload["tools"])


def test_surface_sizes_on_small_catalogs() -> None:
    small, larger = measure("s", synthetic_catalog(3)), measure("l", synthetic_catalog(12))
    assert small.tools == 3
    assert larger.tokens(Surface.ALL) > small.tokens(Surface.ALL)
    assert larger.tokens(Surface.ALL) > larger.tokens(Surface.MINIMIZE_TOOLS)
    for surface in (Surface.SEARCH_AND_EXECUTE, Surface.CODEMODE):
        assert small.sizes[surface] == larger.sizes[surface]
    assert all(0 < red < 1 for _, red in reductions(larger))


def test_report_states_each_target() -> None:
    rows = [
        measure("real (6 servers)", real_catalog()),
        *(measure(f"synthetic {n}", synthetic_catalog(n)) for n in (5, 100)),
    ]
    checks = targets(rows)
    assert len(checks) == 5
    text = render(rows)
    assert all(t.name in text for t in checks)
    assert "| real (6 servers) | 51 |" in text
