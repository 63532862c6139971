"""What token verification costs on the request path: a cache hit must leave almost all of
the < 0.3 ms p50 budget per request to the rest; a miss is one read in one thread hop."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import pytest

from engine.store import open_store
from tests.store.conftest import RESOURCE, Clock, connect, settings_for

pytestmark = pytest.mark.anyio


async def test_a_cached_verification_costs_microseconds(tmp_path: Path) -> None:
    async with open_store(settings_for(tmp_path), environ={}) as store:
        pair = await connect(store)
        assert await store.grants.verify_access_token(pair.access_token, resource=RESOURCE)
        times = []
        for _ in range(2000):
            start = time.perf_counter()
            await store.grants.verify_access_token(pair.access_token, resource=RESOURCE)
            times.append(time.perf_counter() - start)
    # Measured: 2-4 µs at p50 on a busy 2-core machine. The bound leaves room for slow CI.
    assert statistics.median(times) < 50e-6


async def test_last_used_is_recorded_off_the_request_path(tmp_path: Path, clock: Clock) -> None:
    async with open_store(settings_for(tmp_path), environ={}, clock=clock, cache_ttl_s=0) as store:
        pair = await connect(store)
        person = await store.people.by_email("ana@example.com")
        assert person is not None
        (before,) = await store.grants.connected_clients(person.id)
        clock.advance(30)  # within a minute: not written again
        assert await store.grants.verify_access_token(pair.access_token)
        clock.advance(90)
        assert await store.grants.verify_access_token(pair.access_token)
    async with open_store(settings_for(tmp_path), environ={}, clock=clock) as store:
        (after,) = await store.grants.connected_clients(person.id)
    assert before.last_used_at is not None and after.last_used_at == clock.now
