"""One shape for the tool definitions `declare` accepts (mcp_types.Tool objects or dicts)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import mcp_types

from stubs.errors import ToolSpecError

ToolLike: TypeAlias = mcp_types.Tool | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    name: str
    description: str | None
    input_schema: Any
    output_schema: Any | None


def tool_spec(tool: ToolLike) -> ToolSpec:
    """Read name, description and schemas from an MCP Tool or its JSON (`tools/list` entry)."""
    if isinstance(tool, mcp_types.Tool):
        return ToolSpec(tool.name, tool.description, tool.input_schema, tool.output_schema)
    if not isinstance(tool, Mapping):
        raise ToolSpecError(
            f"expected an mcp_types.Tool or a dict with 'name' and 'inputSchema', "
            f"got {type(tool).__name__}"
        )
    name = tool.get("name")
    if not isinstance(name, str) or not name:
        raise ToolSpecError(f"tool definition has no 'name' string: keys {sorted(tool)}")
    description = tool.get("description")
    return ToolSpec(
        name=name,
        description=description if isinstance(description, str) else None,
        input_schema=_first(tool, "inputSchema", "input_schema"),
        output_schema=_first(tool, "outputSchema", "output_schema"),
    )


def _first(tool: Mapping[str, Any], *keys: str) -> Any:
    for key in keys:
        if tool.get(key) is not None:
            return tool[key]
    return None
