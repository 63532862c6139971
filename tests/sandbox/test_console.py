from __future__ import annotations

import pytest

from sandbox import LogEntry, Sandbox
from tests.sandbox.conftest import run

pytestmark = pytest.mark.anyio


async def test_levels_in_order(box: Sandbox) -> None:
    code = """
console.log('a'); console.info('b'); console.warn('c')
await codemode.echo()
console.error('d'); console.debug('e')
"""
    result = await run(box, code)
    assert [(e.level, e.text) for e in result.logs] == [
        ("log", "a"),
        ("info", "b"),
        ("warn", "c"),
        ("error", "d"),
        ("debug", "e"),
    ]


async def test_formatting(box: Sandbox) -> None:
    code = """
const o = {n: 1, list: [1, 'x'], big: 3n}; o.self = o
console.log('obj', o, 2, null, undefined, () => 1, 7n, [1, [2]])
console.log(new Error('boom').message)
"""
    result = await run(box, code)
    first = result.logs[0].text
    assert first.startswith('obj {"n":1,"list":[1,"x"],"big":"3n","self":"[Circular]"} 2 null')
    assert "undefined [Function anonymous] 7n [1,[2]]" in first
    assert result.logs[1].text == "boom"


async def test_shared_non_cyclic_references_print_in_full(box: Sandbox) -> None:
    result = await run(box, "const s = {a: 1}; console.log({x: s, y: s})")
    assert result.logs[0].text == '{"x":{"a":1},"y":{"a":1}}'


async def test_on_log_streams_entries(box: Sandbox) -> None:
    seen: list[LogEntry] = []
    result = await box.run(
        "console.log('one'); await codemode.echo(); console.warn('two')",
        call=lambda n, a: _echo(a),
        names={"echo"},
        on_log=seen.append,
    )
    assert result.error is None
    assert [(e.level, e.text) for e in seen] == [("log", "one"), ("warn", "two")]


async def _echo(args: object) -> object:
    return args
