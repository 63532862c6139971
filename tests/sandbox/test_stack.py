"""QuickJS runs on a stack of its own: deep recursion works, and an overflow is reported,
never silently corrupting the instance (the build's own 68 KB stack ran into its data)."""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime

import sandbox.quickjs as quickjs
from sandbox import ErrorKind, Limits, Sandbox
from sandbox.stackpatch import STACK_POINTER_EXPORT, export_stack_pointer
from sandbox.wasm import _wasm_bytes, shared_module
from tests.sandbox.conftest import run

pytestmark = pytest.mark.anyio


def test_patched_module_exports_its_stack_pointer() -> None:
    original = _wasm_bytes()
    patched = export_stack_pointer(original)
    engine = wasmtime.Engine()
    before = {e.name for e in wasmtime.Module(engine, original).exports}
    after = {e.name for e in wasmtime.Module(engine, patched).exports}
    assert STACK_POINTER_EXPORT not in before
    assert after == before | {STACK_POINTER_EXPORT}


@pytest.mark.parametrize("depth", [100, 300, 500])
async def test_deep_recursion_runs(box: Sandbox, depth: int) -> None:
    code = f"function f(n) {{ return n ? f(n - 1) + 1 : 0 }}\nreturn f({depth})"
    result = await run(box, code)
    assert result.error is None, result.error
    assert result.value == depth


@pytest.mark.parametrize(
    "code",
    [
        "const f = n => f(n + 1) + 1; return f(0)",
        "function f(n) { return f(n + 1) + 1 }\nf(0)",
        "const f = async n => (await f(n + 1)) + 1; return await f(0)",
        "return JSON.parse('['.repeat(100000))",
    ],
)
async def test_runaway_recursion_is_a_stack_overflow(box: Sandbox, code: str) -> None:
    result = await run(box, code)
    assert result.error is not None and result.error.kind is ErrorKind.STACK_OVERFLOW
    assert (await run(box, "return 'next run is fine'")).value == "next run is fine"


async def test_canary_reports_an_overflow_of_a_small_stack(monkeypatch: Any) -> None:
    """With a stack small enough to overflow before wasmtime's own limit, the canary at its
    bottom is what catches it."""
    monkeypatch.setattr(quickjs, "STACK_BYTES", 48 * 1024)
    box = Sandbox(Limits(timeout_s=5, cpu_s=2), pool_size=0)
    try:
        result = await box.run(
            "function f(n) { return n ? f(n - 1) + 1 : 0 }\nreturn f(200)", call=_none, names=[]
        )
        assert result.error is not None and result.error.kind is ErrorKind.STACK_OVERFLOW
        ok = await box.run("return 1 + 1", call=_none, names=[])
        assert ok.value == 2
    finally:
        box.close()


def test_host_reads_outside_guest_memory_are_refused() -> None:
    js = quickjs.QuickJS(shared_module(), memory_limit=16 << 20, store_memory_limit=64 << 20)
    size = js.memory.data_len(js.store)
    assert len(js.read(size - 4, 4)) == 4
    with pytest.raises(quickjs.Trapped):
        js.read(size - 4, 8)
    with pytest.raises(quickjs.Trapped):
        js.read(-1, 4)
    js.close()


async def test_astral_results_fill_the_wire_exactly(box: Sandbox) -> None:
    """20,000 emoji are 20,000 characters but 40,000 UTF-16 units: more than the wire holds."""
    big = "😀" * 20_000

    async def call(name: str, args: Any) -> Any:
        return big

    result = await box.run("return (await codemode.echo()).length", call=call, names={"echo"})
    assert result.error is None, result.error
    assert result.value == 40_000


async def _none(name: str, args: Any) -> Any:
    return None
