"""strip_types on realistic model-written agent code, checked by running the result in QuickJS."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
import quickjs_rs

from stubs import StripError, strip_types

# A stand-in `codemode` in JavaScript: each tool echoes what it was called with.
FAKE_CODEMODE = """
const codemode = {
  list_issues: async (input) => ({ items: [{ id: 1, title: "a", labels: ["bug"] },
                                          { id: 2, title: "b", labels: [] }], input }),
  get_weather: async (input) => ({ city: input.city, temperature: 21.5 }),
  echo: async (input) => input,
};
"""

# (TypeScript a model wrote, the JSON of what it returns when run)
TYPESCRIPT_SNIPPETS: list[tuple[str, Any]] = [
    (
        "const res: { items: Issue[] } = await codemode.list_issues({ repo: 'a/b' });\n"
        "interface Issue { id: number; title: string; labels: string[] }\n"
        "const bugs = res.items.filter((i: Issue) => i.labels.includes('bug'));\n"
        "return bugs.map((b) => b.id);",
        [1],
    ),
    (
        "type Weather = { city: string; temperature: number };\n"
        "const w = (await codemode.get_weather({ city: 'Oslo' })) as Weather;\n"
        "return `${w.city}: ${w.temperature.toFixed(0)}`;",
        "Oslo: 22",
    ),
    (
        "async function fetchAll<T>(names: string[], f: (n: string) => Promise<T>)"
        ": Promise<T[]> {\n"
        "  return Promise.all(names.map(f));\n"
        "}\n"
        "const out = await fetchAll<any>(['x', 'y'], (n) => codemode.echo({ n }));\n"
        "return out.map((o: any) => o.n).join(',');",
        "x,y",
    ),
    (
        "const counts: Record<string, number> = {};\n"
        "for (const word of ['a', 'b', 'a'] as const) {\n"
        "  counts[word] = (counts[word] ?? 0) + 1;\n"
        "}\n"
        "return counts!;",
        {"a": 2, "b": 1},
    ),
    (
        "enum Level { Low = 1, High = 3 }\n"
        "let level: Level = Level.High;\n"
        "const label = <string>'level';\n"
        "return { [label]: level, name: Level[level] };",
        {"level": 3, "name": "High"},
    ),
    (
        "class Acc {\n  private total: number = 0;\n"
        "  add(x: number): this { this.total += x; return this; }\n"
        "  get value(): number { return this.total; }\n}\n"
        "return new Acc().add(2).add(3).value satisfies number;",
        5,
    ),
    (
        "function pick(x: string): string;\nfunction pick(x: number): number;\n"
        "function pick(x: any) { return x; }\n"
        "const isNum = (v: unknown): v is number => typeof v === 'number';\n"
        "const keys: (keyof typeof obj)[] = ['a'];\nconst obj = { a: pick(1) };\n"
        "return keys.filter((k) => isNum(obj[k]!)).length;",
        1,
    ),
    (
        "const maybe: string | undefined = undefined;\n"
        "const len = maybe?.length ?? 0;\n"
        "declare const injected: number;\n"
        "return len;",
        0,
    ),
]

# Plain JavaScript, some of it easy to misread as TypeScript; it must come back byte for byte.
JAVASCRIPT_SNIPPETS = [
    "const r = await codemode.echo({a: 1});\nreturn r.a",
    "  // indented comment kept\n\tconst   spaced = 1 ;\n\n\nreturn spaced",
    "const a = 1, b = 2, c = 3;\nreturn a < b > c;",  # not a generic call
    "const re = /a<b>c/g;\nreturn 'a<b>c'.replace(re, 'x')",
    "label: for (const i of [1, 2]) { if (i) break label; }\nreturn `t ${1 + 1}`;",
    "const o = { type: 'x', as: 1, interface: 2 };\nreturn o.as + o.interface;",
    "",
    "return await Promise.all([1, 2].map(async (x) => x * 2));",
]


async def run(code: str) -> Any:
    """Run agent code (a script body) in QuickJS with the fake codemode; return its value.
    (On the test's own event loop: a nested `anyio.run` would depend on no other test having
    left one running in this thread.)"""
    program = f"{FAKE_CODEMODE}\nJSON.stringify(await (async () => {{\n{code}\n}})())"
    runtime = quickjs_rs.Runtime()
    try:
        context = runtime.new_context()
        text = await context.eval_async(program)
    finally:
        runtime.close()
    return None if text is None else json.loads(text)


@pytest.mark.anyio
@pytest.mark.parametrize(("code", "expected"), TYPESCRIPT_SNIPPETS)
async def test_typescript_snippets_run_after_stripping(code: str, expected: Any) -> None:
    javascript = strip_types(code)
    assert javascript != code
    assert await run(javascript) == expected


@pytest.mark.anyio
async def test_unstripped_typescript_would_not_run() -> None:
    # The transformer is needed at all: QuickJS rejects the annotations.
    with pytest.raises(quickjs_rs.JSError):
        await run(TYPESCRIPT_SNIPPETS[0][0])


@pytest.mark.parametrize("code", JAVASCRIPT_SNIPPETS)
def test_plain_javascript_passes_through_unchanged(code: str) -> None:
    assert strip_types(code) == code


@pytest.mark.parametrize(
    ("code", "line", "column"),
    [
        ("const x: = 1;", 1, 10),
        ("const a = 1;\nconst s = 'it is: fine'; const b: = 2;\nreturn a;", 2, 35),
        ("const r = await codemode.echo({ a: 1 });\nreturn r.a +;", 2, 13),
        ("const items = [1, 2];\nfor (const i of items) {\n  console.log(i);\n", 3, 18),
        ("const f = (a: number, b: string => a;", 1, 33),
        ("const r = await codemode.echo({ a: 1 };\nreturn r;", 1, 39),
    ],
)
def test_syntax_errors_point_into_the_agents_text(code: str, line: int, column: int) -> None:
    with pytest.raises(StripError) as caught:
        strip_types(code)
    assert (caught.value.line, caught.value.column) == (line, column)
    assert caught.value.message
    assert f"line {line}, column {column}" in str(caught.value)


@pytest.mark.anyio
async def test_top_level_return_and_await_are_allowed() -> None:
    code = "const x: number = await codemode.echo(1);\nreturn x;"
    assert await run(strip_types(code)) == 1


def test_threads_share_the_transformer_safely() -> None:
    results: dict[int, str] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            results[i] = strip_types(f"const v{i}: number = {i};\nreturn v{i};")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert all(f"v{i} = {i}" in results[i] and ":" not in results[i] for i in range(16))
