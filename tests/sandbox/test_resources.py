"""Instances are discarded after every run (trapped or not) and the module cache works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from sandbox import ErrorKind, Limits, Sandbox
from tests.sandbox.conftest import run

pytestmark = pytest.mark.anyio


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def test_failed_instances_are_freed(box: Sandbox) -> None:
    """40 runs that each fill a 32 MB heap would hold over 1 GB if instances leaked."""
    limits = Limits(memory_bytes=32 << 20)
    await run(box, "const a = []; while (true) a.push(new ArrayBuffer(1 << 20))", limits=limits)
    before = rss_bytes()
    for i in range(40):
        code = (
            "const a = []; while (true) a.push(new ArrayBuffer(1 << 20))"
            if i % 2
            else "function f() { return f() + 1 } f()"
        )
        result = await run(box, code, limits=limits)
        assert result.error is not None
        assert result.error.kind in (ErrorKind.MEMORY, ErrorKind.STACK_OVERFLOW)
    assert rss_bytes() - before < 400 << 20


def test_compiled_module_is_cached_on_disk(tmp_path: Path) -> None:
    script = (
        "import anyio\n"
        "from sandbox import Sandbox\n"
        "async def main():\n"
        "    box = Sandbox(pool_size=0)\n"
        "    r = await box.run('6 * 7', call=None, names=[])\n"
        "    print(r.value)\n"
        "anyio.run(main)\n"
    )
    env = {**os.environ, "CODEMODE_CACHE_DIR": str(tmp_path)}
    for _ in range(2):
        out = subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == "42"
    cached = list(tmp_path.glob("qjs-*.cwasm"))
    assert len(cached) == 1 and cached[0].stat().st_size > 100_000


def test_corrupt_cache_is_replaced(tmp_path: Path) -> None:
    env = {**os.environ, "CODEMODE_CACHE_DIR": str(tmp_path)}
    code = "from sandbox.wasm import WasmModule; WasmModule(); print('ok')"
    subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True)
    (cached,) = tmp_path.glob("qjs-*.cwasm")
    cached.write_bytes(b"garbage")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok"
    assert cached.stat().st_size > 100_000
