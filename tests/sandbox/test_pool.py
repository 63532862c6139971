"""When the pool of ready guests refills (sandbox/pool.py): after a run, not beside it."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from sandbox import Limits, Sandbox
from sandbox.pool import LOW_WATER, GuestPool
from sandbox.wasm import shared_module

LIMITS = Limits(timeout_s=10, cpu_s=2)
SIZE = 4


def wait_until(condition: Callable[[], bool], timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the pool did not refill in time"
        time.sleep(0.01)


@pytest.fixture
def pool() -> Iterator[GuestPool]:
    made = GuestPool(shared_module(), LIMITS, SIZE)
    wait_until(lambda: made.ready == SIZE)
    yield made
    made.close()


def test_a_guest_taken_from_a_full_stock_is_replaced_when_the_run_ends_not_beside_it(
    pool: GuestPool,
) -> None:
    pool.take(LIMITS).close()
    # building a guest is mostly Python holding the GIL: started now it would slow the run
    time.sleep(0.3)
    assert pool.ready == SIZE - 1
    pool.refill()  # the run ended
    wait_until(lambda: pool.ready == SIZE)


def test_taking_the_stock_down_to_its_low_water_mark_refills_at_once(pool: GuestPool) -> None:
    for _ in range(SIZE - LOW_WATER):
        pool.take(LIMITS).close()
    wait_until(lambda: pool.ready == SIZE)


@pytest.mark.anyio
async def test_a_finished_run_tops_the_stock_up() -> None:
    box = Sandbox(LIMITS, pool_size=SIZE)
    try:
        wait_until(lambda: box._pool.ready == SIZE)

        async def call(name: str, args: object) -> object:
            return args

        result = await box.run("return await codemode.echo({a: 1})", call=call, names=["echo"])
        assert result.error is None and result.value == {"a": 1}
        wait_until(lambda: box._pool.ready == SIZE)
    finally:
        box.close()
