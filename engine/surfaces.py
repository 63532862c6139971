"""The four shapes in which a portal shows its tools, and the engine's own tools.

| URL                                        | Surface            | the client sees             |
|--------------------------------------------|--------------------|-----------------------------|
| /mcp                                       | ALL                | every curated tool          |
| /mcp?optimize_context=minimize_tools       | MINIMIZE_TOOLS     | names only, plus `query`    |
| /mcp?optimize_context=search_and_execute   | SEARCH_AND_EXECUTE | `query` and `execute`       |
| /mcp?codemode=search_and_execute           | CODEMODE           | `code`                      |

That table is the default code mode policy, `opt_in`. A portal's `code_mode` changes which
URL gives which surface (`surface_for`, the one place that decides it):

| query                               | off            | opt_in     | default_on | enforced |
|-------------------------------------|----------------|------------|------------|----------|
| (none)                              | ALL            | ALL        | CODEMODE   | CODEMODE |
| optimize_context=minimize_tools     | MINIMIZE_TOOLS | (as off)   | (as off)   | CODEMODE |
| optimize_context=search_and_execute | ALL            | SEARCH_... | SEARCH_... | CODEMODE |
| codemode=search_and_execute         | ALL            | CODEMODE   | CODEMODE   | CODEMODE |
| codemode=off                        | ALL            | ALL        | ALL        | CODEMODE |

(SEARCH_... is SEARCH_AND_EXECUTE.)

With `off` no code runs: any request for a code-running surface gets the plain one (ALL), and
the `codemode` parameter is ignored whatever its value. With `enforced` the query string is
ignored. Otherwise an unknown value, or both parameters, is a `SurfaceError` (a 400).

The descriptions of `query`, `execute` and `code` are fixed text: their size never depends on
how many tools the portal has.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from mcp_types import Tool

from engine.config import CodeMode
from engine.view import PortalView


class Surface(StrEnum):
    ALL = "all"
    MINIMIZE_TOOLS = "minimize_tools"
    SEARCH_AND_EXECUTE = "search_and_execute"
    CODEMODE = "codemode"

    @property
    def runs_code(self) -> bool:
        return self in (Surface.SEARCH_AND_EXECUTE, Surface.CODEMODE)


class SurfaceError(ValueError):
    """A URL asked for a surface that does not exist; the message lists the valid ones."""


SURFACE_PARAMETERS = ("optimize_context", "codemode")
"""The query parameters that choose a surface."""

_OPTIMIZE = {
    "minimize_tools": Surface.MINIMIZE_TOOLS,
    "search_and_execute": Surface.SEARCH_AND_EXECUTE,
}
_CODEMODE = {"search_and_execute": Surface.CODEMODE, "off": Surface.ALL}


def surface_from_query(params: Mapping[str, str]) -> Surface:
    """The surface a client asked for with `?optimize_context=` or `?codemode=`."""
    optimize, codemode = params.get("optimize_context"), params.get("codemode")
    if optimize is not None and codemode is not None:
        raise SurfaceError("use either optimize_context or codemode, not both")
    if optimize is not None:
        if optimize not in _OPTIMIZE:
            raise SurfaceError(
                f"unknown optimize_context={optimize!r}; valid values: "
                + ", ".join(sorted(_OPTIMIZE))
            )
        return _OPTIMIZE[optimize]
    if codemode is not None:
        if codemode not in _CODEMODE:
            raise SurfaceError(
                f"unknown codemode={codemode!r}; valid values: " + ", ".join(sorted(_CODEMODE))
            )
        return _CODEMODE[codemode]
    return Surface.ALL


def surface_for(params: Mapping[str, str], code_mode: CodeMode) -> Surface:
    """The surface a URL's query `params` gives under the portal's `code_mode` policy (the
    table above)."""
    if code_mode is CodeMode.ENFORCED:
        return Surface.CODEMODE
    if code_mode is CodeMode.OFF:
        asked = surface_from_query({k: v for k, v in params.items() if k != "codemode"})
        return Surface.ALL if asked.runs_code else asked
    asked = surface_from_query(params)
    if code_mode is CodeMode.DEFAULT_ON and not any(p in params for p in SURFACE_PARAMETERS):
        return Surface.CODEMODE
    return asked


def surface_query(surface: Surface, code_mode: CodeMode) -> str | None:
    """The query string (`""` or `"?..."`) that gives `surface` under `code_mode`; None when
    the policy does not offer it. `surface_for` of it is `surface` again."""
    if code_mode is CodeMode.ENFORCED:
        return "" if surface is Surface.CODEMODE else None
    if code_mode is CodeMode.OFF and surface.runs_code:
        return None
    if surface is Surface.ALL:
        return "?codemode=off" if code_mode is CodeMode.DEFAULT_ON else ""
    if surface is Surface.CODEMODE and code_mode is CodeMode.DEFAULT_ON:
        return ""
    if surface is Surface.CODEMODE:
        return "?codemode=search_and_execute"
    return f"?optimize_context={surface.value}"


QUERY = "query"
EXECUTE = "execute"
CODE = "code"

QUERY_TOOL = Tool(
    name=QUERY,
    description=(
        "Search this portal's tools by what you want to do, in plain words "
        '(e.g. "list recent commits", "time in Tokyo"). Returns the best matches as '
        "TypeScript declarations plus their JSON schemas. Call a match by its name, or as "
        "codemode.<name>(input) inside code."
    ),
    input_schema={
        "type": "object",
        "properties": {
            "query": {"type": "string", "description": "What you want to do, or a tool name."},
            "limit": {
                "type": "integer",
                "minimum": 1,
                "maximum": 50,
                "description": "How many matches to return (default 5).",
            },
        },
        "required": ["query"],
        "additionalProperties": False,
    },
)

_CODE_INPUT = {
    "type": "object",
    "properties": {
        "code": {
            "type": "string",
            "description": "JavaScript to run; top-level await and return allowed.",
        }
    },
    "required": ["code"],
    "additionalProperties": False,
}

_CODE_RULES = """\
Every tool is an async method: `await codemode.<name>(input)` with an input object. \
`await codemode.search("what you need")` returns TypeScript declarations of matching tools; \
`await codemode.describe("name")` returns one tool's declaration. \
`codemode.resources.list()` and `.read(uri)` read the servers' resources.
Write a script body: top-level `await` works and the value you `return` (or of the last \
expression) is the result. An `async () => {...}` or `async function main() {...}` is called \
for you. TypeScript annotations are stripped.
Results are parsed JSON (or text); a failing tool throws an Error you can catch. Run \
independent calls together with `Promise.all`. `console.log` output comes back with the \
result. There is no fetch, require, import, timers, files or network; runs are limited in \
time, calls and output size, so filter and summarise inside the code.

Example:
const found = await codemode.search("current time in a timezone");
const [a, b] = await Promise.all([
  codemode.time_get_current_time({ timezone: "Asia/Tokyo" }),
  codemode.time_get_current_time({ timezone: "Europe/Paris" }),
]);
return { tokyo: a.datetime, paris: b.datetime };"""

EXECUTE_TOOL = Tool(
    name=EXECUTE,
    description=(
        "Run JavaScript in an isolated sandbox that can call this portal's tools. Use `query` "
        "first to find tools and their input types.\n" + _CODE_RULES
    ),
    input_schema=_CODE_INPUT,
)

CODE_TOOL = Tool(
    name=CODE,
    description=(
        "Run JavaScript in an isolated sandbox that can call every tool of this portal "
        "(find them from inside the code with codemode.search).\n" + _CODE_RULES
    ),
    input_schema=_CODE_INPUT,
)


def list_tools(surface: Surface, view: PortalView) -> list[Tool]:
    if surface is Surface.ALL:
        return [t.tool for t in view.tools]
    if surface is Surface.MINIMIZE_TOOLS:
        names_only = [
            Tool(name=t.name, description="", input_schema={"type": "object"}) for t in view.tools
        ]
        return [*names_only, QUERY_TOOL]
    if surface is Surface.SEARCH_AND_EXECUTE:
        return [QUERY_TOOL, EXECUTE_TOOL]
    return [CODE_TOOL]


def engine_tools(surface: Surface) -> frozenset[str]:
    """Names of the engine's own tools on `surface`."""
    return {
        Surface.ALL: frozenset(),
        Surface.MINIMIZE_TOOLS: frozenset({QUERY}),
        Surface.SEARCH_AND_EXECUTE: frozenset({QUERY, EXECUTE}),
        Surface.CODEMODE: frozenset({CODE}),
    }[surface]


def is_code_tool(surface: Surface, name: str) -> bool:
    """Whether calling `name` on `surface` runs agent code (`code` or `execute`): the one place
    that decides it, for the request log, the executor and the run's console feedback."""
    return name in engine_tools(surface) and name != QUERY


def calls_upstream_directly(surface: Surface) -> bool:
    """Whether a curated tool's own name can be called on `surface`."""
    return surface in (Surface.ALL, Surface.MINIMIZE_TOOLS)
