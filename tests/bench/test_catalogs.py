"""The benchmark catalogs: real tools as recorded, synthetic ones seeded and well-formed."""

from __future__ import annotations

import json

import jsonschema
import pytest

from benchmarks.catalogs import (
    Catalog,
    merged,
    portal_view,
    real_catalog,
    synthetic_catalog,
    tool_count,
)
from engine.naming import is_valid_name


def dump(catalog: Catalog) -> str:
    return json.dumps(
        {s: [t.model_dump(mode="json", by_alias=True) for t in ts] for s, ts in catalog.items()}
    )


def test_real_catalog_is_the_51_recorded_tools() -> None:
    catalog = real_catalog()
    assert list(catalog) == ["everything", "filesystem", "memory", "git", "time", "fetch"]
    assert tool_count(catalog) == 51
    assert "get_current_time" in [t.name for t in catalog["time"]]


def test_synthetic_catalog_is_the_same_on_every_call() -> None:
    assert dump(synthetic_catalog(200)) == dump(synthetic_catalog(200))


def test_other_seed_gives_another_catalog() -> None:
    assert dump(synthetic_catalog(50, seed=1)) != dump(synthetic_catalog(50, seed=2))


def test_smaller_catalog_is_a_prefix_of_a_larger_one() -> None:
    small, large = synthetic_catalog(50), synthetic_catalog(500)
    for server, tools in small.items():
        assert [t.name for t in tools] == [t.name for t in large[server][: len(tools)]]


@pytest.mark.parametrize("count", [0, 1, 10, 1000])
def test_synthetic_catalog_has_the_asked_count_of_distinct_valid_tools(count: int) -> None:
    catalog = synthetic_catalog(count)
    assert tool_count(catalog) == count
    view = portal_view(catalog)
    names = [t.name for t in view.tools]
    assert len(names) == len(set(names)) == count
    assert all(is_valid_name(n) for n in names)


def test_synthetic_schemas_are_valid_json_schemas() -> None:
    for tools in synthetic_catalog(300).values():
        for tool in tools:
            jsonschema.Draft202012Validator.check_schema(tool.input_schema)
            assert tool.input_schema["type"] == "object"
            if tool.output_schema is not None:
                jsonschema.Draft202012Validator.check_schema(tool.output_schema)


def test_merged_refuses_a_server_id_in_two_catalogs() -> None:
    with pytest.raises(ValueError, match="'time'"):
        merged(real_catalog(), {"time": []})
