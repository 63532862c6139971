"""The prelude is compiled to bytecode once per process; every guest reads that bytecode."""

from __future__ import annotations

import pytest

from sandbox import bytecode
from sandbox.guest import _PRELUDE, _PRELUDE_FILE
from sandbox.quickjs import TAG_EXCEPTION, QuickJS, Trapped
from sandbox.wasm import shared_module


def fresh() -> QuickJS:
    return QuickJS(shared_module(), memory_limit=16 << 20, store_memory_limit=64 << 20)


def test_the_prelude_is_compiled_once_and_runs_in_any_guest() -> None:
    first = bytecode.compiled(shared_module(), _PRELUDE, _PRELUDE_FILE)
    assert bytecode.compiled(shared_module(), _PRELUDE, _PRELUDE_FILE) is first
    for _ in range(3):
        js = fresh()
        try:
            with bytecode.run(js, first) as bridge:
                assert bridge.tag != TAG_EXCEPTION
                for name in ("configure", "start", "collect", "settle", "attach"):
                    with js.get(bridge.value, name) as fn:
                        assert fn.tag != TAG_EXCEPTION
        finally:
            js.close()


def test_source_that_does_not_compile_is_reported_with_its_file() -> None:
    with pytest.raises(Trapped, match=r"broken\.js failed to compile"):
        bytecode.compiled(shared_module(), "const = ;", "broken.js")
