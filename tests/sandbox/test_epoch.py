"""The epoch ticker (which lets the host interrupt running JavaScript) ticks only while a run
is executing: an idle portal is not woken 200 times a second."""

from __future__ import annotations

import time

import wasmtime

from sandbox.wasm import EPOCH_TICK_S, WasmModule


class _CountingEngine:
    def __init__(self, engine: wasmtime.Engine) -> None:
        self.engine = engine
        self.ticks = 0

    def increment_epoch(self) -> None:
        self.ticks += 1
        self.engine.increment_epoch()


def test_the_epoch_ticks_only_while_something_runs() -> None:
    module = WasmModule()
    counting = _CountingEngine(module.engine)
    module.engine = counting  # type: ignore[assignment]  # only the ticker uses it here
    time.sleep(20 * EPOCH_TICK_S)  # idle: the ticker would have ticked ~20 times
    assert counting.ticks == 0
    with module.ticking():
        for _ in range(1000):  # bounded: 1000 x 10 ms
            if counting.ticks >= 2:
                break
            time.sleep(0.01)
        assert counting.ticks >= 2
        stopped_at = counting.ticks
    time.sleep(20 * EPOCH_TICK_S)
    assert counting.ticks <= stopped_at + 1  # the one already under way, then none
