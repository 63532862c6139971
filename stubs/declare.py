"""TypeScript declarations of the `codemode` object for a set of MCP tools.

Layout: the named types first (`<Tool>Input`, `<Tool>Output`, shared `$defs`), then one
`declare const codemode: { ... }` whose methods carry the tool's description and one
`@param input.<field>` line per described top-level field. Top-level field descriptions are
written only there, nested ones as inline JSDoc, so no text appears twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from stubs import jsdoc
from stubs.errors import ToolSpecError
from stubs.names import sanitize_names, type_name
from stubs.registry import TypeRegistry
from stubs.schema import SchemaConverter
from stubs.tools import ToolLike, ToolSpec, tool_spec
from stubs.tstype import INDENT, property_key

RESULT_NOTE = "A tool error rejects with an Error holding the tool's message."
UNKNOWN_NOTE = (
    "Promise<unknown> resolves to structuredContent, else to the text parsed as JSON, "
    "else the text."
)
# One-line summaries in brief mode are cut to this many characters.
SUMMARY_MAX = 120


@dataclass(frozen=True, slots=True)
class _Method:
    doc: list[str]
    signature: str


def declare(
    tools: Iterable[ToolLike], brief: bool = False, names: Mapping[str, str] | None = None
) -> str:
    """TypeScript declarations for `tools` (mcp_types.Tool objects or `tools/list` dicts).

    `names` maps tool names to their `codemode` identifiers (a `sanitize_names` result over
    the whole tool set, so one tool shown alone keeps the identifier it has among all tools);
    by default the names of `tools` are sanitised together. `brief=True` gives one line per
    tool for search results instead of a compilable file.
    """
    specs = [tool_spec(t) for t in tools]
    js_names = _js_names(specs, names)
    if brief:
        return "\n".join(_brief_line(spec, js_names[spec.name]) for spec in specs)
    registry = TypeRegistry()
    registry.count_objects([s for spec in specs for s in (spec.input_schema, spec.output_schema)])
    allocated = [
        (spec, *_allocate_type_names(registry, spec, js_names[spec.name])) for spec in specs
    ]
    methods = [
        _method(registry, spec, js_names[spec.name], input_name, output_name)
        for spec, input_name, output_name in allocated
    ]
    notes = [RESULT_NOTE]
    if any(spec.output_schema is None for spec in specs):
        notes.append(UNKNOWN_NOTE)
    body: list[str] = []
    for method in methods:
        body.extend(jsdoc.comment(method.doc, INDENT))
        body.append(f"{INDENT}{method.signature};")
    parts = [registry.text(), *jsdoc.comment(notes, ""), "declare const codemode: {", *body, "};"]
    return "\n".join(p for p in parts if p) + "\n"


def declare_tool(tool: ToolLike, names: Mapping[str, str] | None = None) -> str:
    """The complete, compilable declarations of one tool: its named types and its method."""
    return declare([tool], names=names)


def _js_names(specs: list[ToolSpec], names: Mapping[str, str] | None) -> dict[str, str]:
    counts = Counter(spec.name for spec in specs)
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise ToolSpecError(f"tool names must be unique; listed more than once: {duplicates}")
    if names is None:
        return sanitize_names(spec.name for spec in specs)
    missing = [spec.name for spec in specs if spec.name not in names]
    if missing:
        raise ToolSpecError(f"no codemode name given for tools {missing}")
    return {spec.name: names[spec.name] for spec in specs}


def _allocate_type_names(
    registry: TypeRegistry, spec: ToolSpec, js_name: str
) -> tuple[str, str | None]:
    stem = type_name(js_name)
    input_name = registry.allocate(stem + "Input")
    output_name = registry.allocate(stem + "Output") if spec.output_schema is not None else None
    return input_name, output_name


def _method(
    registry: TypeRegistry,
    spec: ToolSpec,
    js_name: str,
    input_name: str,
    output_name: str | None,
) -> _Method:
    owner = type_name(js_name)
    input_schema = _input_schema(spec)
    converter = SchemaConverter(registry, input_schema, owner=owner, root_name=input_name)
    converter.define(input_name, input_schema, describe_props=False)
    if output_name is not None:
        out = SchemaConverter(registry, spec.output_schema, owner=owner, root_name=output_name)
        description = _get(spec.output_schema, "description")
        doc = [jsdoc.escape(description)] if isinstance(description, str) else []
        out.define(output_name, spec.output_schema, doc)
    returns = output_name or "unknown"
    optional = "" if _input_required(input_schema) else "?"
    signature = f"{property_key(js_name)}(input{optional}: {input_name}): Promise<{returns}>"
    return _Method(_method_doc(spec, input_schema), signature)


def _input_schema(spec: ToolSpec) -> Any:
    # MCP requires an object schema; a tool that sends none takes no arguments we know of.
    if isinstance(spec.input_schema, Mapping | bool):
        return spec.input_schema
    return {"type": "object"}


def _get(schema: Any, key: str) -> Any:
    return schema.get(key) if isinstance(schema, Mapping) else None


def _input_required(schema: Any) -> bool:
    """Whether the method needs an argument: some field is required, or the shape is not known."""
    if not isinstance(schema, Mapping):
        return True
    required = schema.get("required")
    if isinstance(required, list) and required:
        return True
    return any(key in schema for key in ("$ref", "anyOf", "oneOf", "allOf"))


def _method_doc(spec: ToolSpec, input_schema: Any) -> list[str]:
    doc: list[str] = []
    if spec.description and spec.description.strip():
        doc.append(jsdoc.escape(spec.description.strip()))
    properties = _get(input_schema, "properties")
    if isinstance(properties, Mapping):
        for key, sub in properties.items():
            description = _get(sub, "description")
            if isinstance(description, str) and description.strip():
                doc.append(
                    f"@param input.{jsdoc.escape(str(key))} - {jsdoc.escape(description.strip())}"
                )
    return doc


def _brief_line(spec: ToolSpec, js_name: str) -> str:
    registry = TypeRegistry()
    owner = type_name(js_name)
    input_schema = _input_schema(spec)
    input_type = SchemaConverter(registry, input_schema, owner=owner, brief=True).convert(
        input_schema
    )
    if spec.output_schema is None:
        output = "unknown"
    else:
        converter = SchemaConverter(registry, spec.output_schema, owner=owner, brief=True)
        output = converter.convert(spec.output_schema).text
    optional = "" if _input_required(input_schema) else "?"
    line = f"{property_key(js_name)}(input{optional}: {input_type.text}): Promise<{output}>;"
    summary = _summary(spec.description)
    return f"{line} // {summary}" if summary else line


def _summary(description: str | None) -> str:
    if not description:
        return ""
    first = description.strip().splitlines()[0].strip() if description.strip() else ""
    return first if len(first) <= SUMMARY_MAX else first[: SUMMARY_MAX - 1].rstrip() + "…"


__all__ = ["declare", "declare_tool"]
