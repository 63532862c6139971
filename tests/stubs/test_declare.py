"""declare(): the shape of the declarations, the inputs it accepts, and that it never raises."""

from __future__ import annotations

import json
from typing import Any

import mcp_types
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stubs import ToolSpecError, count_tokens, declare, declare_tool, sanitize_names
from tests.stubs.support import CORPUS, corpus_tools

FETCH = corpus_tools("fetch")[0]


def test_mcp_tool_objects_and_dicts_give_the_same_text() -> None:
    for server in CORPUS:
        tools = corpus_tools(server)
        objects = [mcp_types.Tool.model_validate(t) for t in tools]
        assert declare(objects) == declare(tools)


def test_one_method_per_tool_with_named_input_and_output_types() -> None:
    text = declare(corpus_tools("time"))
    assert "declare const codemode: {" in text
    assert "get_current_time(input: GetCurrentTimeInput): Promise<GetCurrentTimeOutput>;" in text
    assert "interface GetCurrentTimeInput { timezone: string }" in text
    assert "@param input.timezone - IANA timezone name" in text


def test_without_output_schema_the_result_is_unknown_and_explained() -> None:
    text = declare([FETCH])
    assert "fetch(input: FetchInput): Promise<unknown>;" in text
    assert "structuredContent" in text and "parsed as JSON" in text
    assert "rejects with an Error" in text
    assert "structuredContent" not in declare(corpus_tools("time"))


def test_top_level_descriptions_are_written_once() -> None:
    text = declare([FETCH])
    assert text.count("Maximum number of characters to return.") == 1


def test_method_input_is_optional_only_when_nothing_is_required() -> None:
    text = declare(corpus_tools("memory"))
    assert "read_graph(input?: ReadGraphInput)" in text
    assert "search_nodes(input: SearchNodesInput)" in text


def test_names_mapping_keeps_identifiers_of_the_full_set() -> None:
    tools: list[dict[str, Any]] = [
        {"name": "srv_get-item", "inputSchema": {"type": "object"}},
        {"name": "srv_get.item", "inputSchema": {"type": "object"}},
    ]
    names = sanitize_names(str(t["name"]) for t in tools)
    alone = declare_tool(tools[0], names=names)
    assert f"{names['srv_get-item']}(input?:" in alone
    assert names["srv_get-item"] != names["srv_get.item"]


def test_names_mapping_must_cover_every_tool() -> None:
    with pytest.raises(ToolSpecError, match="no codemode name"):
        declare([FETCH], names={"other": "other"})


def test_duplicate_tool_names_are_a_typed_error() -> None:
    with pytest.raises(ToolSpecError, match="more than once"):
        declare([FETCH, FETCH])


@pytest.mark.parametrize("bad", [42, {"description": "no name"}, {"name": ""}])
def test_not_a_tool_is_a_typed_error(bad: Any) -> None:
    with pytest.raises(ToolSpecError):
        declare([bad])


def test_type_names_stay_distinct_when_tool_names_pascal_case_alike() -> None:
    tools = [
        {
            "name": "git_status",
            "inputSchema": {"type": "object", "properties": {"a": {"type": "string"}}},
        },
        {
            "name": "gitStatus",
            "inputSchema": {"type": "object", "properties": {"b": {"type": "number"}}},
        },
    ]
    text = declare(tools)
    assert "interface GitStatusInput { a?: string }" in text
    assert "interface GitStatusInput2 { b?: number }" in text
    assert "gitStatus(input?: GitStatusInput2)" in text


def test_brief_gives_one_line_per_tool() -> None:
    tools = corpus_tools("everything")
    lines = declare(tools, brief=True).splitlines()
    assert len(lines) == len(tools)
    assert lines[0] == (
        "echo(input: { message: string }): Promise<unknown>; // Echoes back the input string"
    )
    structured = next(line for line in lines if line.startswith("get_structured_content("))
    assert "Promise<{ temperature: number; conditions: string; humidity: number }>" in structured


def test_repeated_object_schemas_are_written_once() -> None:
    text = declare(corpus_tools("memory"))
    assert text.count("The name of the entity where the relation starts") == 1
    assert "relations: Relation[]" in text


@pytest.mark.parametrize("server", [s for s in CORPUS if len(corpus_tools(s)) > 1])
def test_declarations_are_smaller_than_the_json_tool_list(server: str) -> None:
    # A one-tool server pays the fixed header note about results and errors; see
    # benchmarks/results/stubs.md for every server's figures.
    tools = corpus_tools(server)
    as_json = json.dumps(tools, separators=(",", ":"))
    assert count_tokens(declare(tools)) < count_tokens(as_json)


_json_scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8)
_keywords = st.sampled_from(
    [
        "type", "properties", "required", "items", "prefixItems", "enum", "const", "anyOf",
        "oneOf", "allOf", "$ref", "$defs", "definitions", "additionalProperties",
        "patternProperties", "nullable", "format", "default", "description", "minimum",
    ]
)  # fmt: skip
_schemas = st.recursive(
    _json_scalars | st.sampled_from(["object", "array", "string", "null", "#", "#/$defs/a"]),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_keywords | st.text(max_size=4), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(input_schema=_schemas, output_schema=_schemas, description=st.text(max_size=30))
def test_any_schema_degrades_instead_of_raising(
    input_schema: Any, output_schema: Any, description: str
) -> None:
    tool = {
        "name": "t",
        "description": description,
        "inputSchema": input_schema,
        "outputSchema": output_schema,
    }
    text = declare([tool])
    assert "declare const codemode: {" in text
    assert declare([tool], brief=True).startswith("t(input")
