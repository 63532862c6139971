"""Every error kind, with messages a model can act on and positions in the agent's code."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from sandbox import ErrorKind, Limits, Sandbox
from tests.sandbox.conftest import run

pytestmark = pytest.mark.anyio


async def test_syntax_error_has_line_and_column(box: Sandbox) -> None:
    result = await run(box, "const a = 1;\nconst b = ;\nreturn a")
    assert result.error is not None
    assert result.error.kind is ErrorKind.SYNTAX
    assert result.error.line == 2
    assert result.error.column is not None and result.error.column >= 1
    assert "line 2" in result.error.message


async def test_syntax_error_in_function_body_shape(box: Sandbox) -> None:
    result = await run(box, "return 1\nlet = ;")
    assert result.error is not None and result.error.kind is ErrorKind.SYNTAX
    assert result.error.line == 2


async def test_runtime_error_points_at_agent_code(box: Sandbox) -> None:
    code = "const x = 1\nfunction f() {\n  undefinedThing(x)\n}\nf()"
    result = await run(box, code)
    error = result.error
    assert error is not None and error.kind is ErrorKind.RUNTIME
    assert error.name == "ReferenceError"
    assert error.message == "undefinedThing is not defined"
    assert (error.line, error.column) == (3, 3)
    assert error.stack == ["at f (agent.js:3:3)", "at <code> (agent.js:5:1)"]


async def test_thrown_error_after_await(box: Sandbox) -> None:
    result = await run(box, "await codemode.echo({})\nthrow new RangeError('bad range')")
    assert result.error is not None
    assert (result.error.kind, result.error.name) == (ErrorKind.RUNTIME, "RangeError")
    assert result.error.message == "bad range"
    assert result.error.line == 2


async def test_thrown_non_error_value(box: Sandbox) -> None:
    result = await run(box, "throw {code: 7}")
    assert result.error is not None and result.error.kind is ErrorKind.RUNTIME
    assert '{"code":7}' in result.error.message


async def test_timeout_while_waiting_for_a_tool(box: Sandbox) -> None:
    async def call(name: str, args: Any) -> Any:
        await anyio.sleep(30)

    limits = Limits(timeout_s=0.3)
    result = await box.run("await codemode.echo()", call=call, names={"echo"}, limits=limits)
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT
    assert "0.3 s" in result.error.message


async def test_cpu_budget_stops_endless_loop(box: Sandbox) -> None:
    result = await run(box, "while (true) {}", limits=Limits(cpu_s=0.2))
    assert result.error is not None and result.error.kind is ErrorKind.CPU
    assert "0.2 s" in result.error.message


async def test_wall_timeout_stops_endless_loop_before_cpu_budget(box: Sandbox) -> None:
    result = await run(box, "for (;;) {}", limits=Limits(timeout_s=0.2, cpu_s=5))
    assert result.error is not None and result.error.kind is ErrorKind.TIMEOUT


async def test_endless_loop_after_a_tool_call(box: Sandbox) -> None:
    result = await run(box, "await codemode.echo(); while (true) {}", limits=Limits(cpu_s=0.2))
    assert result.error is not None and result.error.kind is ErrorKind.CPU


async def test_memory_limit(box: Sandbox) -> None:
    code = "const a = []; while (true) a.push(new ArrayBuffer(1 << 20))"
    result = await run(box, code, limits=Limits(memory_bytes=16 * 1024 * 1024))
    assert result.error is not None and result.error.kind is ErrorKind.MEMORY
    assert "16 MB" in result.error.message


async def test_memory_limit_bounds_the_whole_heap(box: Sandbox) -> None:
    """16 MB holds at most 16 buffers of 1 MB, not the ~250 that only the store's 256 MB cap
    stopped while QuickJS's own limit refused nothing but single allocations above it."""
    code = """
const a = [];
try { while (true) a.push(new ArrayBuffer(1 << 20)) } catch (e) { return [a.length, String(e)] }
"""
    result = await run(box, code, limits=Limits(memory_bytes=16 << 20))
    held, error = result.value
    assert error == "InternalError: out of memory"
    assert 12 <= held <= 16, held  # the empty runtime and the bridge take well under 4 MB


async def test_memory_error_is_catchable_inside(box: Sandbox) -> None:
    code = """
try { let a = []; while (true) a.push(new Array(1e5).fill(0)) }
catch (e) { return String(e) }
"""
    result = await run(box, code, limits=Limits(memory_bytes=16 * 1024 * 1024))
    assert result.value == "InternalError: out of memory"


async def test_stack_overflow(box: Sandbox) -> None:
    result = await run(box, "function f(n) { return f(n + 1) + 1 }\nf(0)")
    assert result.error is not None and result.error.kind is ErrorKind.STACK_OVERFLOW
    assert "maximum call stack size exceeded" in result.error.message


async def test_stack_overflow_instance_is_discarded(box: Sandbox) -> None:
    await run(box, "const f = () => f(); f()")
    assert (await run(box, "return 'fine'")).value == "fine"


@pytest.mark.parametrize(
    ("code", "where"),
    [
        ("return {f() {}}", "result.f"),
        ("const a = {}; a.self = a; return a", "result.self"),
        ("return [1, Symbol('s')]", "result[1]"),
        ("return () => 1", None),  # a function is called (arrow shape), returning 1
    ],
)
async def test_unserializable_result(box: Sandbox, code: str, where: str | None) -> None:
    result = await run(box, code)
    if where is None:
        assert result.value == 1
        return
    assert result.error is not None and result.error.kind is ErrorKind.UNSERIALIZABLE
    assert where in result.error.message


async def test_deadlock(box: Sandbox) -> None:
    result = await run(box, "await new Promise(() => {})")
    assert result.error is not None and result.error.kind is ErrorKind.DEADLOCK
    assert "never settle" in result.error.message


async def test_deadlock_after_calls(box: Sandbox) -> None:
    code = "await codemode.echo(); await new Promise(resolve => { globalThis.r = resolve })"
    result = await run(box, code)
    assert result.error is not None and result.error.kind is ErrorKind.DEADLOCK


async def test_setTimeout_does_not_exist(box: Sandbox) -> None:
    result = await run(box, "await new Promise(r => setTimeout(r, 10))")
    assert result.error is not None and result.error.name == "ReferenceError"


async def test_errors_carry_logs_so_far(box: Sandbox) -> None:
    result = await run(box, "console.log('step 1'); await codemode.echo(); nope()")
    assert result.error is not None
    assert [entry.text for entry in result.logs] == ["step 1"]


async def test_error_json_shape(box: Sandbox) -> None:
    result = await run(box, "\nnope()")
    assert result.error is not None
    data = result.error.to_json()
    assert data["kind"] == "runtime" and data["line"] == 2 and data["name"] == "ReferenceError"
