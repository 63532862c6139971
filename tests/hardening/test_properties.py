"""Property-based tests (hypothesis, derandomized so every run sees the same examples):

- `stubs.declare` never raises on arbitrary JSON-ish schemas, tool names and descriptions, and
  whatever it writes compiles with `tsc --strict` (all examples in one tsc run);
- any JSON value crosses the sandbox bridge unchanged, host -> sandbox and sandbox -> host;
- `surface_from_query` answers a Surface or a SurfaceError for any query, never anything else;
- random JSON-RPC-ish bodies posted to `/mcp` never get a 5xx, and the server keeps serving.

The sandbox and HTTP properties run each generated example against the real thing after
generation (hypothesis drives no event loop here); a failure names the smallest failing one.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.datastructures import QueryParams

from engine.surfaces import Surface, SurfaceError, surface_from_query
from sandbox import Limits, Sandbox
from stubs import declare
from tests.hardening.conftest import assert_still_serving, open_session, raw_client
from tests.server.conftest import ServedPortal
from tests.stubs.support import run_tsc

T = TypeVar("T")

SCHEMA_EXAMPLES = 150
JSON_EXAMPLES = 150
QUERY_EXAMPLES = 400
BODY_EXAMPLES = 150
MAX_SAFE_INT = 2**53


def examples(strategy: st.SearchStrategy[T], count: int) -> list[T]:
    """`count` values drawn by hypothesis (derandomized: the same ones every run)."""
    drawn: list[T] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def draw(value: T) -> None:
        drawn.append(value)

    draw()
    return drawn


def smallest(failures: list[T], size: Callable[[T], int]) -> T:
    return min(failures, key=size)


# -- JSON values ------------------------------------------------------------------------------

# Keys JavaScript treats specially when objects are built by assignment.
TRICKY_KEYS = st.sampled_from(
    ["__proto__", "constructor", "prototype", "toString", "then", "0", "-1", "01", "", " "]
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-MAX_SAFE_INT, max_value=MAX_SAFE_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()  # hypothesis text never holds lone surrogates
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(TRICKY_KEYS | st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=25,
)


def as_javascript_sees_it(value: Any) -> Any:
    """What a JSON value is after a JavaScript round trip: every number is a double (so 1.0
    may come back as 1, and an integral double past 2**53 as the int of its shortest decimal
    form), and -0.0 comes back as 0 (JSON.stringify(-0) is "0")."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) + 0.0  # + 0.0 turns -0.0 into 0.0
    if isinstance(value, list):
        return [as_javascript_sees_it(v) for v in value]
    if isinstance(value, dict):
        return {k: as_javascript_sees_it(v) for k, v in value.items()}
    return value


def canonical(value: Any) -> str:
    """Equality that tells true from 1 and 1 from 1.5 (Python's == does not)."""
    return json.dumps(as_javascript_sees_it(value), sort_keys=True)


@pytest.fixture(scope="module")
def box() -> Any:
    sandbox = Sandbox(Limits(timeout_s=10, cpu_s=5))
    yield sandbox
    sandbox.close()


@pytest.mark.anyio
async def test_any_json_value_crosses_the_bridge_both_ways_unchanged(box: Sandbox) -> None:
    values = examples(json_values, JSON_EXAMPLES)
    failures: list[tuple[Any, str]] = []
    for value in values:
        received: list[Any] = []

        async def call(
            name: str, args: Any, value: Any = value, received: list[Any] = received
        ) -> Any:
            if name == "get":
                return value
            received.append(args)
            return None

        code = "const v = await codemode.get(); await codemode.put(v); return v"
        run = await box.run(code, call=call, names={"get", "put"})
        if run.error is not None:
            failures.append((value, f"error {run.error}"))
        elif canonical(run.value) != canonical(value):
            failures.append((value, f"came back as {run.value!r}"))
        elif len(received) != 1 or canonical(received[0]) != canonical(value):
            failures.append((value, f"reached the host as {received!r}"))
    assert len(values) == JSON_EXAMPLES
    if failures:
        value, what = smallest(failures, lambda f: len(repr(f[0])))
        pytest.fail(f"{len(failures)} of {len(values)} values changed; smallest: {value!r} {what}")


@pytest.mark.anyio
async def test_json_numbers_keep_their_meaning(box: Sandbox) -> None:
    value = [0, -0.0, 1.0, 0.1, 1e-300, 1.7976931348623157e308, MAX_SAFE_INT, -MAX_SAFE_INT, 5e-324]

    async def call(name: str, args: Any) -> Any:
        return value

    run = await box.run("return await codemode.get()", call=call, names={"get"})
    assert run.error is None, run.error
    assert run.value == [0, 0, 1, 0.1, 1e-300, 1.7976931348623157e308, 2**53, -(2**53), 5e-324]
    assert not any(isinstance(v, float) and math.copysign(1, v) < 0 for v in run.value)


# -- JSON Schema -> TypeScript ----------------------------------------------------------------

SCHEMA_KEYWORDS = [
    "type", "properties", "required", "items", "prefixItems", "enum", "const", "anyOf", "oneOf",
    "allOf", "not", "$ref", "$defs", "definitions", "additionalProperties", "patternProperties",
    "nullable", "format", "default", "description", "title", "minimum", "examples",
]  # fmt: skip
TYPE_NAMES = st.sampled_from(
    ["string", "number", "integer", "boolean", "null", "array", "object", "any", "decimal"]
)
# Text that is hard to put in a .d.ts: comment ends, quotes, backslashes, line breaks, unicode.
awkward_text = st.text(
    alphabet=st.sampled_from(list("aZ_$ 0-*/\\'\"`\n\r\t{}<>@ü😀\u2028")) | st.characters(),
    max_size=12,
)


def schema_value(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    keyword_values = st.one_of(
        TYPE_NAMES,
        st.lists(TYPE_NAMES, max_size=3),
        st.dictionaries(awkward_text, children, max_size=4),  # properties, $defs
        st.lists(children, max_size=3),  # anyOf, prefixItems, enum
        st.lists(awkward_text, max_size=3),  # required
        st.sampled_from(["#", "#/$defs/a", "#/definitions/a", "#/nope", "http://x/s.json"]),
        json_scalars,
        children,
    )
    return st.dictionaries(
        st.sampled_from(SCHEMA_KEYWORDS) | awkward_text, keyword_values, max_size=5
    )


schemas: st.SearchStrategy[Any] = st.recursive(
    st.booleans() | st.just({}) | st.builds(lambda t: {"type": t}, TYPE_NAMES) | json_scalars,
    schema_value,
    max_leaves=12,
)
tools = st.lists(
    st.fixed_dictionaries(
        {"name": st.text(min_size=1, max_size=20), "inputSchema": schemas},
        optional={"description": awkward_text | st.none(), "outputSchema": schemas},
    ),
    min_size=1,
    max_size=3,
    unique_by=lambda t: t["name"],
)


def test_declare_never_raises_and_always_compiles(tmp_path: Path) -> None:
    tool_sets = examples(tools, SCHEMA_EXAMPLES)
    files: list[Path] = []
    for i, tool_set in enumerate(tool_sets):
        try:
            text = declare(tool_set)
            brief = declare(tool_set, brief=True)
        except Exception as exc:  # the property: nothing at all escapes
            pytest.fail(f"declare raised {exc!r} for {tool_set!r}")
        assert len(brief.splitlines()) >= len(tool_set)
        path = tmp_path / f"case_{i}.ts"
        path.write_text(text + "\nexport {};\n", encoding="utf-8")
        files.append(path)
    _, errors, output = run_tsc(files, tmp_path)
    assert len(files) == SCHEMA_EXAMPLES
    if errors:
        first = int(errors[0].file.removeprefix("case_").removesuffix(".ts"))
        pytest.fail(
            f"{len({e.file for e in errors})} of {len(files)} declarations do not compile; "
            f"first: {tool_sets[first]!r}\n{files[first].read_text()}\n{output[:3000]}"
        )
    printed = [line for line in output.splitlines() if "error" in line.lower()]
    assert not printed, output


# -- query strings ----------------------------------------------------------------------------

PARAMETER_NAMES = st.sampled_from(["optimize_context", "codemode", "OPTIMIZE_CONTEXT", ""])
PARAMETER_VALUES = st.sampled_from(
    ["minimize_tools", "search_and_execute", "", " ", "\x00", "MINIMIZE_TOOLS", "codemode"]
)


@settings(max_examples=QUERY_EXAMPLES, derandomize=True, database=None, deadline=None)
@given(
    st.dictionaries(PARAMETER_NAMES | st.text(), PARAMETER_VALUES | st.text()),
    st.text(),
)
def test_surface_from_query_answers_a_surface_or_a_surface_error(
    mapping: dict[str, str], raw_query: str
) -> None:
    for params in (mapping, QueryParams(raw_query)):
        try:
            surface = surface_from_query(params)
        except SurfaceError as exc:
            assert "optimize_context" in str(exc) or "codemode" in str(exc)
        else:
            assert isinstance(surface, Surface)
            asked = {k for k in params if k in ("optimize_context", "codemode")}
            assert asked or surface is Surface.ALL


# -- JSON-RPC bodies on /mcp ------------------------------------------------------------------

METHODS = st.sampled_from(
    [
        "ping", "tools/list", "tools/call", "prompts/list", "prompts/get", "resources/list",
        "initialize", "notifications/initialized", "notifications/cancelled", "logging/setLevel",
        "completion/complete", "server/discover", "subscriptions/listen", "", "x/y",
    ]
)  # fmt: skip
random_params = st.dictionaries(
    st.sampled_from(["name", "arguments", "cursor", "_meta", "level", "uri"]) | st.text(),
    json_values,
    max_size=4,
)
jsonrpc_bodies = st.one_of(
    # A well-formed envelope around random params: these reach the method handlers.
    st.fixed_dictionaries(
        {
            "jsonrpc": st.just("2.0"),
            "id": st.integers(0, 10**6) | st.text(max_size=8),
            "method": METHODS,
            "params": random_params,
        }
    ),
    # Anything goes: each part may be missing or of any type.
    st.fixed_dictionaries(
        {},
        optional={
            "jsonrpc": st.sampled_from(["2.0", "1.0", "", 2]) | json_scalars,
            "id": st.integers(0, 10**6) | st.text(max_size=8) | json_values,
            "method": METHODS | st.text(max_size=12) | json_scalars,
            "params": random_params | json_values,
            "result": json_values,
            "error": json_values,
        },
    ),
    st.lists(json_values, max_size=3),
    json_values,
).map(lambda body: json.dumps(body).encode())
raw_bodies = jsonrpc_bodies | st.binary(max_size=200)


@pytest.mark.anyio
async def test_random_jsonrpc_bodies_never_get_a_5xx(served: ServedPortal) -> None:
    bodies = examples(raw_bodies, BODY_EXAMPLES)
    statuses: dict[int, int] = {}
    failures: list[tuple[bytes, str]] = []
    async with raw_client() as http:
        session = await open_session(http, served.url)
        for body in bodies:
            answer = await http.post(served.url, content=body, headers=session)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1
            if answer.status_code >= 500:
                failures.append((body, f"{answer.status_code} {answer.text[:300]}"))
    assert sum(statuses.values()) == BODY_EXAMPLES
    assert {200, 400} <= set(statuses), statuses  # both handled requests and refusals were made
    if failures:
        body, what = smallest(failures, lambda f: len(f[0]))
        pytest.fail(f"{len(failures)} bodies got a 5xx; smallest: {body!r} -> {what}")
    await assert_still_serving(served.url)
