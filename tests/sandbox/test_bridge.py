"""The host bridge: calls, concurrency, errors, and JSON in both directions."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from sandbox import ErrorKind, Limits, Sandbox, ToolError
from tests.sandbox.conftest import Host, run

pytestmark = pytest.mark.anyio


async def test_call_reaches_host_with_arguments(box: Sandbox, host: Host) -> None:
    result = await run(box, "return await codemode.echo({city: 'Paris', days: [1, 2]})", host)
    assert result.value == {"echo": {"city": "Paris", "days": [1, 2]}}
    assert host.calls == [("echo", {"city": "Paris", "days": [1, 2]})]
    assert result.calls == 1


async def test_call_without_arguments_sends_empty_object(box: Sandbox, host: Host) -> None:
    await run(box, "await codemode.echo()", host)
    assert host.calls == [("echo", {})]


async def test_non_object_arguments_pass_through(box: Sandbox, host: Host) -> None:
    """The host decides what inputs mean (the engine validates them against schemas)."""
    await run(box, "await codemode.echo('Paris'); await codemode.echo([1, 2])", host)
    assert host.calls == [("echo", "Paris"), ("echo", [1, 2])]


async def test_function_arguments_reject(box: Sandbox, host: Host) -> None:
    result = await run(box, "await codemode.echo(() => 1)", host)
    assert result.error is not None and result.error.name == "TypeError"
    assert "cannot be a tool input" in result.error.message
    assert host.calls == []


async def test_tool_error_class_is_chosen_by_the_host(box: Sandbox) -> None:
    async def call(name: str, args: Any) -> Any:
        raise ToolError("input.city: 1 is not of type 'string'", name="TypeError")

    code = "try { await codemode.echo({city: 1}) } catch (e) { return [e.name, e.message] }"
    result = await box.run(code, call=call, names={"echo"})
    assert result.value == ["TypeError", "input.city: 1 is not of type 'string'"]


async def test_promise_all_calls_overlap_on_host(box: Sandbox) -> None:
    """Three calls that each wait until all three have arrived can only finish if the host
    runs them at the same time; run sequentially they would deadlock until the timeout."""
    arrived = 0
    all_here = anyio.Event()
    active = 0
    peak = 0

    async def call(name: str, args: Any) -> Any:
        nonlocal arrived, active, peak
        arrived += 1
        active += 1
        peak = max(peak, active)
        if arrived == 3:
            all_here.set()
        with anyio.fail_after(5):
            await all_here.wait()
        active -= 1
        return args["i"]

    code = "return await Promise.all([1, 2, 3].map(i => codemode.echo({i})))"
    result = await box.run(code, call=call, names={"echo"})
    assert result.error is None, result.error
    assert result.value == [1, 2, 3]
    assert peak == 3


async def test_max_concurrent_calls_bounds_host_concurrency(box: Sandbox) -> None:
    active = 0
    peak = 0

    async def call(name: str, args: Any) -> Any:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await anyio.sleep(0.01)
        active -= 1
        return 1

    code = "return (await Promise.all(Array.from({length: 12}, () => codemode.echo({})))).length"
    result = await box.run(code, call=call, names={"echo"}, limits=Limits(max_concurrent_calls=3))
    assert result.value == 12
    assert peak == 3


async def test_thousand_sequential_calls(box: Sandbox, host: Host) -> None:
    code = "let s = 0\nfor (let i = 0; i < 1000; i++) s += (await codemode.echo({i})).echo.i\ns"
    result = await run(box, code, host)
    assert result.error is None, result.error
    assert result.value == sum(range(1000))
    assert result.calls == 1000
    assert [args["i"] for _, args in host.calls] == list(range(1000))


async def test_unknown_name_rejects_with_close_matches(box: Sandbox, host: Host) -> None:
    result = await run(box, "await codemode.get_wether({city: 'x'})", host)
    assert result.error is not None
    assert result.error.kind is ErrorKind.RUNTIME
    assert result.error.name == "TypeError"
    assert "codemode.get_wether is not a tool" in result.error.message
    assert "codemode.get_weather" in result.error.message
    assert host.calls == []


async def test_unknown_name_is_catchable(box: Sandbox) -> None:
    code = "try { await codemode.nope() } catch (e) { return e instanceof TypeError }"
    assert (await run(box, code)).value is True


async def test_tool_error_rejects_with_message_and_is_catchable(box: Sandbox) -> None:
    code = """
try { await codemode.fail({message: 'rate limited'}) }
catch (e) { return {message: e.message, retryable: e.retryable, code: e.code} }
"""
    result = await run(box, code)
    assert result.value == {"message": "rate limited", "retryable": True, "code": "E42"}


async def test_uncaught_tool_error_is_a_runtime_error(box: Sandbox) -> None:
    result = await run(box, "await codemode.fail({message: 'upstream 503'})")
    assert result.error is not None and result.error.kind is ErrorKind.RUNTIME
    assert result.error.message == "upstream 503"


async def test_host_exception_is_not_leaked(box: Sandbox) -> None:
    code = "try { await codemode.crash() } catch (e) { return e.message }"
    result = await run(box, code)
    assert result.value == "codemode.crash failed inside the host (RuntimeError)"
    assert "passwd" not in str(result)


async def test_non_json_host_result_rejects(box: Sandbox) -> None:
    async def call(name: str, args: Any) -> Any:
        return float("nan")

    code = "try { await codemode.echo() } catch (e) { return e.message }"
    result = await box.run(code, call=call, names={"echo"})
    assert "not JSON" in str(result.value)


@pytest.mark.parametrize(
    "text", ["plain", "héllo wörld", "emoji 😀🎉 and 𝕏", "中文字符", "\u2028\u2029"]
)
async def test_unicode_round_trip(box: Sandbox, text: str) -> None:
    async def call(name: str, args: Any) -> Any:
        assert args["text"] == text
        return {"text": args["text"] + "|" + text}

    code = f"const r = await codemode.echo({{text: {text!r}}}); return [r.text, r.text.length]"
    result = await box.run(code, call=call, names={"echo"})
    assert result.error is None, result.error
    utf16_len = len((text + "|" + text).encode("utf-16-le")) // 2
    assert result.value == [text + "|" + text, utf16_len]


async def test_lone_surrogate_crosses_as_escape(box: Sandbox, host: Host) -> None:
    result = await run(box, "return (await codemode.echo({s: '\\ud800'})).echo.s.length", host)
    assert result.value == 1
    assert host.calls[0][1] == {"s": "\ud800"}


async def test_large_results_both_directions(box: Sandbox) -> None:
    big = "x" * 2_000_000 + "é😀"

    async def call(name: str, args: Any) -> Any:
        return {"blob": big, "got": len(args["blob"])}

    code = """
const r = await codemode.echo({blob: 'y'.repeat(500000)})
return {len: r.blob.length, got: r.got, tail: r.blob.slice(-3)}
"""
    result = await box.run(code, call=call, names={"echo"})
    assert result.error is None, result.error
    assert result.value == {"len": 2_000_003, "got": 500_000, "tail": "é😀"}  # 😀 is 2 units


async def test_tool_results_keep_json_types(box: Sandbox) -> None:
    payload = {"n": 1.5, "big": 2**53, "neg": -7, "t": True, "z": None, "list": [1, "a"], "o": {}}

    async def call(name: str, args: Any) -> Any:
        return payload

    result = await box.run("return await codemode.echo()", call=call, names={"echo"})
    assert result.value == payload


async def test_settled_calls_ignore_unknown_ids(box: Sandbox) -> None:
    """A slow call settling after the run ended must not disturb anything."""

    async def call(name: str, args: Any) -> Any:
        if args.get("slow"):
            await anyio.sleep(0.2)
        return 1

    code = "codemode.echo({slow: true}); return await codemode.echo({})"
    result = await box.run(code, call=call, names={"echo"})
    assert result.value == 1
    assert result.calls == 2


async def test_tool_error_subclass_fields_optional(box: Sandbox) -> None:
    async def call(name: str, args: Any) -> Any:
        raise ToolError("plain")

    code = (
        "try { await codemode.echo() }\ncatch (e) { return [e.message, e.retryable, 'code' in e] }"
    )
    result = await box.run(code, call=call, names={"echo"})
    assert result.value == ["plain", False, False]


async def test_unknown_name_error_carries_the_host_hint(box: Sandbox) -> None:
    hint = "Unavailable now: upstream server 'github' (Error: cannot reach it)."
    result = await box.run(
        "await codemode.github_search({})", call=_never, names={"echo"}, unknown_hint=hint
    )
    assert result.error is not None and result.error.name == "TypeError"
    assert result.error.message.endswith(hint)
    plain = await box.run("await codemode.github_search({})", call=_never, names={"echo"})
    assert plain.error is not None and "Unavailable" not in plain.error.message


async def _never(name: str, args: Any) -> Any:
    raise AssertionError("the host must not be called for an unknown name")
