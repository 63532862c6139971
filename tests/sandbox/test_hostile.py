"""Every hostile snippet ends (value or typed error), leaks nothing, and harms nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sandbox import ErrorKind, Limits, Sandbox
from tests.sandbox.hostile import HOSTILE

pytestmark = pytest.mark.anyio

SECRET = "sk-live-HOSTILE-CORPUS-SECRET-42"
LIMITS = Limits(
    timeout_s=3,
    cpu_s=1,
    memory_bytes=32 << 20,
    max_calls=200,
    max_result_bytes=1 << 20,
    max_log_bytes=16 << 10,
    max_args_bytes=1 << 20,
)


def test_corpus_is_large_enough() -> None:
    assert len(HOSTILE) >= 50
    assert len({name for name, _ in HOSTILE}) == len(HOSTILE)


@pytest.mark.parametrize(("name", "code"), HOSTILE, ids=[n for n, _ in HOSTILE])
async def test_hostile_snippet(box: Sandbox, name: str, code: str) -> None:
    called: list[str] = []

    async def call(tool: str, args: Any) -> Any:
        called.append(tool)
        authorization = f"Bearer {SECRET}"  # what a real bridge holds; never returned
        assert authorization
        return {"echo": args if len(json.dumps(args)) < 1000 else "big"}

    result = await box.run(code, call=call, names={"echo"}, limits=LIMITS)
    observable = json.dumps(
        [result.value, [e.to_json() for e in result.logs], result.error and result.error.to_json()],
        default=str,
    )
    assert SECRET not in observable
    assert "/etc/passwd" not in observable or result.error is not None
    assert set(called) <= {"echo"}
    assert result.error is None or result.error.kind is not ErrorKind.INTERNAL, result.error
    follow_up = await box.run(
        "return typeof globalThis.__settle + typeof Object.prototype.then",
        call=call,
        names={"echo"},
    )
    assert follow_up.value == "undefinedundefined"
