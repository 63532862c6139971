"""Every code shape models write is accepted and its value comes back."""

from __future__ import annotations

import pytest

from sandbox import Sandbox
from tests.sandbox.conftest import run

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("code", "value"),
    [
        ("1 + 2", 3),
        ("const a = await Promise.resolve(4);\na * 2", 8),
        ("const r = await codemode.echo({x: 1});\nreturn r.echo.x", 1),
        ("async () => { const r = await codemode.echo({x: 2}); return r.echo.x }", 2),
        ("async () => 5", 5),
        ("async function main() {\n  return (await codemode.echo({x: 3})).echo.x\n}", 3),
        ("async function main() { return 1 }\nreturn await main() + 1", 2),
        ("for (let i = 0; i < 3; i++) { if (i === 2) return i }", 2),
        ("return", None),
        ("", None),
        ("// only a comment", None),
    ],
)
async def test_shape(box: Sandbox, code: str, value: object) -> None:
    result = await run(box, code)
    assert result.error is None, result.error
    assert result.value == value


async def test_main_called_once_when_code_calls_it(box: Sandbox) -> None:
    code = "let n = 0\nasync function main() { n++; return n }\nawait main()\nreturn n"
    result = await run(box, code)
    assert result.value == 1
