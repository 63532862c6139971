"""The agent sees only ES built-ins, `console` and `codemode`, and can reach nothing else."""

from __future__ import annotations

import os
from typing import Any

import anyio
import pytest

from sandbox import ErrorKind, Limits, Sandbox
from tests.sandbox.conftest import Host, run

pytestmark = pytest.mark.anyio

SECRET = "sk-live-THIS-IS-A-HOST-SECRET-1234567890"


@pytest.mark.parametrize(
    "name",
    [
        "process",
        "require",
        "std",
        "os",
        "Deno",
        "Bun",
        "fetch",
        "XMLHttpRequest",
        "WebSocket",
        "print",
        "scriptArgs",
        "setTimeout",
        "setInterval",
        "module",
        "exports",
        "__filename",
        "importScripts",
        "WebAssembly",
        "Atomics",
        "navigator",
        "Worker",
    ],
)
async def test_host_apis_are_absent(box: Sandbox, name: str) -> None:
    result = await run(box, f"return typeof globalThis[{name!r}]")
    assert result.value == "undefined"


async def test_only_expected_globals_are_added(box: Sandbox) -> None:
    code = "return Object.getOwnPropertyNames(globalThis).filter(n => !/^[A-Z]/.test(n)).sort()"
    result = await run(box, code)
    assert set(result.value) <= {
        "codemode",
        "console",
        "globalThis",
        "decodeURI",
        "decodeURIComponent",
        "encodeURI",
        "encodeURIComponent",
        "escape",
        "unescape",
        "eval",
        "isFinite",
        "isNaN",
        "parseFloat",
        "parseInt",
        "queueMicrotask",
        "undefined",
        "NaN",
        "Infinity",
        "navigator",
        "performance",
        "structuredClone",
        "atob",
        "btoa",
    }, result.value


@pytest.mark.parametrize(
    "code",
    [
        "return await import('qjs:std')",
        "return await import('std')",
        "return await import('os')",
        "return await import('/etc/passwd')",
        "return await import('node:fs')",
        "return await import('data:text/javascript,export default 1')",
    ],
)
async def test_dynamic_import_fails(box: Sandbox, code: str) -> None:
    result = await run(box, code)
    assert result.error is not None
    assert result.value is None


async def test_static_import_is_a_syntax_error(box: Sandbox) -> None:
    result = await run(box, "import fs from 'fs'\nreturn 1")
    assert result.error is not None and result.error.kind is ErrorKind.SYNTAX


async def test_no_state_leaks_between_runs(box: Sandbox) -> None:
    first = """
globalThis.leak = 'from run 1'
Object.prototype.polluted = 'yes'
Array.prototype.push = () => 'hijacked'
JSON.stringify = () => '"hijacked"'
console.log = () => {}
return 1
"""
    assert (await run(box, first)).value == 1
    second = """
console.log('visible')
const a = []; a.push(1)
return [typeof leak, ({}).polluted, a.length, JSON.stringify({x: 1})]
"""
    result = await run(box, second)
    assert result.value == ["undefined", None, 1, '{"x":1}']
    assert [e.text for e in result.logs] == ["visible"]


async def test_codemode_cannot_be_replaced_or_extended(box: Sandbox, host: Host) -> None:
    code = """
"use strict"
const failed = []
const attempts = {
  assign: () => { codemode = {} },
  set: () => { codemode.echo = () => 'fake' },
  remove: () => { delete codemode.echo },
  define: () => Object.defineProperty(globalThis, 'codemode', {value: 1}),
  proto: () => Object.setPrototypeOf(codemode, {echo: () => 'fake'}),
}
for (const [name, attempt] of Object.entries(attempts)) {
  try { attempt() } catch (e) { failed.push(name + ': ' + e.name) }
}
const r = await codemode.echo({real: true})
return {failed, r}
"""
    result = await run(box, code, host)
    assert result.error is None, result.error
    assert result.value["r"] == {"echo": {"real": True}}
    assert len(result.value["failed"]) == 5, result.value
    assert host.calls == [("echo", {"real": True})]


async def test_sloppy_assignment_to_codemode_is_ignored(box: Sandbox, host: Host) -> None:
    result = await run(box, "codemode = null\nreturn await codemode.echo({})", host)
    assert result.value == {"echo": {}}


@pytest.mark.parametrize(
    "patch",
    [
        "JSON.stringify = () => '{\"forged\":true}'",
        "JSON.parse = () => ({forged: true})",
        "Map.prototype.get = () => undefined; Map.prototype.set = () => {}",
        "Array.prototype.push = () => 0; Array.prototype.pop = () => 0",
        "Array.prototype[Symbol.iterator] = function* () {}",
        "String.prototype.charCodeAt = () => 65",
        "String.fromCharCode = () => 'x'",
        "Uint16Array.prototype.subarray = () => new Uint16Array(0)",
        "Promise.prototype.then = function () { return this }",
        "Reflect.apply = () => null",
    ],
)
async def test_patched_intrinsics_do_not_break_the_bridge(
    box: Sandbox, host: Host, patch: str
) -> None:
    result = await run(
        box, f"{patch}\nconst r = await codemode.echo({{x: 1}})\nreturn r.echo.x", host
    )
    assert host.calls == [("echo", {"x": 1})]
    assert result.value == 1, result.error


async def test_prototype_pollution_via_json_proto(box: Sandbox, host: Host) -> None:
    async def call(name: str, args: Any) -> Any:
        return {"__proto__": {"polluted": True}, "constructor": {"prototype": {"p": 1}}}

    code = (
        "const r = await codemode.echo()\nreturn [({}).polluted, r.__proto__ === Object.prototype]"
    )
    result = await box.run(code, call=call, names={"echo"})
    assert result.value == [None, False]


async def test_constructor_constructor_reaches_only_the_sandbox(box: Sandbox) -> None:
    code = """
const g = ({}).constructor.constructor('return this')()
const g2 = Function('return globalThis')()
return [g === globalThis, g2 === globalThis, typeof g.process, typeof g.require]
"""
    result = await run(box, code)
    assert result.value == [True, True, "undefined", "undefined"]


async def test_cannot_call_names_not_given(box: Sandbox) -> None:
    called: list[str] = []

    async def call(name: str, args: Any) -> Any:
        called.append(name)
        return 1

    code = """
const out = []
for (const n of ['admin_delete', 'constructor', '__proto__', 'toString', 'hasOwnProperty']) {
  try { await codemode[n]({}); out.push('called ' + n) } catch (e) { out.push(e.name) }
}
return out
"""
    result = await box.run(code, call=call, names={"echo"})
    assert called == []
    assert result.value is not None and "called admin_delete" not in result.value


async def test_host_secret_never_observable(box: Sandbox) -> None:
    """The host callable holds a secret; nothing the sandbox can see contains it."""
    secret = SECRET

    async def call(name: str, args: Any) -> Any:
        headers = {"Authorization": f"Bearer {secret}"}  # used host-side only
        assert headers
        return {"status": "ok"}

    code = """
const r = await codemode.echo({})
const seen = [JSON.stringify(r), String(codemode.echo), Object.keys(codemode).join(','),
  JSON.stringify(Object.getOwnPropertyNames(globalThis)), String(codemode)]
console.log(seen.join('\\n'))
return seen
"""
    result = await box.run(code, call=call, names={"echo"})
    assert secret not in repr(result.value)
    assert all(secret not in entry.text for entry in result.logs)
    assert secret not in repr(result.error)


async def test_environment_and_files_unreachable(box: Sandbox) -> None:
    os.environ["CODEMODE_TEST_SECRET"] = SECRET
    try:
        code = """
const found = []
for (const k of Object.getOwnPropertyNames(globalThis)) {
  try { const v = String(globalThis[k]); if (v.includes('sk-live')) found.push(k) } catch (e) {}
}
return found
"""
        result = await run(box, code)
        assert result.value == []
    finally:
        del os.environ["CODEMODE_TEST_SECRET"]


async def test_webassembly_is_not_available(box: Sandbox) -> None:
    code = "return typeof WebAssembly === 'undefined' ? 'absent' : 'present'"
    assert (await run(box, code)).value == "absent"


async def test_eval_runs_inside_the_sandbox_only(box: Sandbox) -> None:
    result = await run(box, "return eval('typeof process + typeof codemode')")
    assert result.value == "undefinedobject"


async def test_memory_bomb_does_not_hurt_the_host(box: Sandbox) -> None:
    code = "const a = []; while (true) a.push('x'.repeat(1 << 20))"
    result = await run(box, code, limits=Limits(memory_bytes=32 << 20))
    assert result.error is not None and result.error.kind is ErrorKind.MEMORY
    assert (await run(box, "return 2")).value == 2


async def test_regex_catastrophic_backtracking_is_stopped(box: Sandbox) -> None:
    code = "return /^(a+)+$/.test('a'.repeat(40) + 'b')"
    result = await run(box, code, limits=Limits(cpu_s=0.3))
    assert result.error is not None and result.error.kind in (ErrorKind.CPU, ErrorKind.TIMEOUT)


async def test_event_loop_keeps_serving_during_a_busy_run(box: Sandbox) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await anyio.sleep(0.01)
            ticks += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        result = await run(box, "while (true) {}", limits=Limits(cpu_s=0.5))
        tg.cancel_scope.cancel()
    assert result.error is not None and result.error.kind is ErrorKind.CPU
    assert ticks >= 5  # a blocked loop would not tick at all


async def test_cancelling_a_run_stops_it(box: Sandbox) -> None:
    with anyio.move_on_after(0.2) as scope:
        await run(box, "while (true) {}", limits=Limits(cpu_s=30, timeout_s=30))
    assert scope.cancelled_caught
    assert (await run(box, "return 'after'")).value == "after"


async def test_many_runs_at_once_are_isolated(box: Sandbox) -> None:
    results: dict[int, Any] = {}

    async def one(i: int) -> None:
        code = f"globalThis.mine = {i}; await codemode.echo({{i: {i}}}); return mine"
        results[i] = (await run(box, code)).value

    async with anyio.create_task_group() as tg:
        for i in range(30):
            tg.start_soon(one, i)
    assert results == {i: i for i in range(30)}
