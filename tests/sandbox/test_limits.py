"""Each limit yields a typed error naming the limit, its value, and what to do."""

from __future__ import annotations

import pytest

from sandbox import ErrorKind, Limits, Sandbox
from tests.sandbox.conftest import Host, run

pytestmark = pytest.mark.anyio


async def test_code_size(box: Sandbox) -> None:
    result = await run(box, "1;" * 600, limits=Limits(max_code_bytes=1000))
    assert result.error is not None and result.error.kind is ErrorKind.LIMIT
    assert "1000 bytes" in result.error.message


async def test_max_calls(box: Sandbox, host: Host) -> None:
    code = "for (let i = 0; i < 10; i++) await codemode.echo({i})"
    result = await run(box, code, host, limits=Limits(max_calls=3))
    assert result.error is not None and result.error.kind is ErrorKind.LIMIT
    assert "at most 3 calls" in result.error.message
    assert len(host.calls) == 3
    assert result.calls == 3


async def test_max_calls_error_is_catchable(box: Sandbox) -> None:
    code = """
const out = []
for (let i = 0; i < 3; i++) {
  try { await codemode.echo({i}); out.push('ok') } catch (e) { out.push(e.name) }
}
return out
"""
    result = await run(box, code, limits=Limits(max_calls=2))
    assert result.value == ["ok", "ok", "LimitError"]


async def test_argument_size(box: Sandbox, host: Host) -> None:
    code = "await codemode.echo({blob: 'x'.repeat(5000)})"
    result = await run(box, code, host, limits=Limits(max_args_bytes=1000))
    assert result.error is not None and result.error.kind is ErrorKind.LIMIT
    assert "1000 bytes" in result.error.message
    assert host.calls == []


async def test_result_size(box: Sandbox) -> None:
    result = await run(box, "return 'x'.repeat(5000)", limits=Limits(max_result_bytes=1000))
    assert result.error is not None and result.error.kind is ErrorKind.LIMIT
    assert "1000 bytes" in result.error.message and "Return less" in result.error.message


async def test_log_size_is_capped_with_notice(box: Sandbox) -> None:
    code = "for (let i = 0; i < 1000; i++) console.log('line ' + i); return 'done'"
    result = await run(box, code, limits=Limits(max_log_bytes=500))
    assert result.value == "done"
    assert sum(len(e.text) for e in result.logs) < 1000
    assert "log cap of 500 bytes" in result.logs[-1].text
    assert result.logs[0].text == "line 0"
