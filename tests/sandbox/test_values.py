"""Values JSON cannot carry have defined behaviour (see README: "Values returned")."""

from __future__ import annotations

import pytest

from sandbox import Sandbox
from tests.sandbox.conftest import Host, run

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("return 10n", "10"),
        ("return {big: 2n ** 70n}", {"big": str(2**70)}),
        ("return new Date(Date.UTC(2026, 0, 2, 3, 4, 5))", "2026-01-02T03:04:05.000Z"),
        ("return undefined", None),
        ("return {a: undefined, b: 1}", {"b": 1}),
        ("return [undefined, NaN, Infinity, -Infinity]", [None, None, None, None]),
        ("return NaN", None),
        ("return new Map([['a', 1], ['b', {c: 2}]])", {"a": 1, "b": {"c": 2}}),
        ("return new Set([1, 2, 2, 3])", [1, 2, 3]),
        ("return {toJSON() { return 'custom' }}", "custom"),
        ("return Object.create(null)", {}),
        ("const shared = {x: 1}; return [shared, shared]", [{"x": 1}, {"x": 1}]),
        ("return -0", 0),
        ("return 'a\\u0000b'", "a\x00b"),
    ],
)
async def test_result_conversion(box: Sandbox, code: str, value: object) -> None:
    result = await run(box, code)
    assert result.error is None, result.error
    assert result.value == value


async def test_bigint_and_date_in_arguments(box: Sandbox, host: Host) -> None:
    await run(box, "await codemode.echo({n: 5n, when: new Date(0)})", host)
    assert host.calls == [("echo", {"n": "5", "when": "1970-01-01T00:00:00.000Z"})]


async def test_cyclic_arguments_reject_with_path(box: Sandbox, host: Host) -> None:
    code = "const a = {}; a.me = a; try { await codemode.echo(a) } catch (e) { return e.message }"
    result = await run(box, code, host)
    assert "circular reference at input.me" in str(result.value)
    assert host.calls == []
