"""A run stopped while QuickJS frees a large value (a client that goes away under load, a
deadline that falls there) is reported as stopped, not as an internal sandbox failure."""

from __future__ import annotations

import pytest
import wasmtime

from sandbox.quickjs import Interrupted, QuickJS
from sandbox.wasm import shared_module

BIG = "Array.from({ length: 1000000 }, (_, i) => ({ i, s: 'v' + i }))"
MiB = 1024 * 1024


def test_a_stop_during_free_is_an_interruption() -> None:
    js = QuickJS(shared_module(), memory_limit=512 * MiB, store_memory_limit=1024 * MiB)
    try:
        value = js.eval(BIG, "big.js")
        js.should_stop = lambda: "cancelled"  # as the run's cancellation sets it
        # Freeing a million objects spans many epoch ticks: one of them stops it.
        with pytest.raises(Interrupted, match="cancelled"):
            value.free()
    finally:
        js.close()


def test_without_a_stop_free_completes() -> None:
    js = QuickJS(shared_module(), memory_limit=512 * MiB, store_memory_limit=1024 * MiB)
    try:
        js.eval(BIG, "big.js").free()
        assert not js.closed
    except wasmtime.WasmtimeError as exc:  # pragma: no cover - the failure we guard against
        pytest.fail(f"free failed: {exc}")
    finally:
        js.close()
