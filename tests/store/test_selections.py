"""Per-client server selection on both databases: a disabled server is kept per (grant,
portal), not shared with another grant or portal, turned back on, and gone with its grant;
several grants' choices read at once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.store import Store
from tests.store.conftest import Clock, connect

pytestmark = pytest.mark.anyio


async def test_disabled_per_grant_and_portal(store: Store) -> None:
    mine = await connect(store, "Claude Code")
    other = await connect(store, "Cursor")
    selections = store.selections
    assert await selections.disabled(mine.grant_id, "team") == frozenset()
    assert await selections.set_enabled(mine.grant_id, "team", "demo", False)
    assert not await selections.set_enabled(mine.grant_id, "team", "demo", False)  # already
    assert await selections.disabled(mine.grant_id, "team") == {"demo"}
    assert await selections.disabled(mine.grant_id, "eng") == frozenset()
    assert await selections.disabled(other.grant_id, "team") == frozenset()
    assert await selections.set_enabled(mine.grant_id, "team", "time", False)
    assert await selections.disabled(mine.grant_id, "team") == {"demo", "time"}
    assert await selections.set_enabled(mine.grant_id, "team", "time", True)
    assert await selections.disabled(mine.grant_id, "team") == {"demo"}
    assert await selections.set_enabled(mine.grant_id, "team", "demo", True)
    assert not await selections.set_enabled(mine.grant_id, "team", "demo", True)
    assert await selections.disabled(mine.grant_id, "team") == frozenset()


async def test_selection_goes_with_its_grant(store: Store, clock: Clock) -> None:
    pair = await connect(store)
    await store.selections.set_enabled(pair.grant_id, "team", "demo", False)
    assert await store.grants.revoke_grant(pair.grant_id)
    clock.advance(1)
    assert await store.grants.purge(keep=timedelta(0))
    assert await store.selections.disabled(pair.grant_id, "team") == frozenset()


async def test_the_choices_of_several_grants_in_one_read(store: Store) -> None:
    mine, other, third = [await connect(store, name) for name in ("A", "B", "C")]
    selections = store.selections
    await selections.set_enabled(mine.grant_id, "team", "demo", False)
    await selections.set_enabled(other.grant_id, "team", "time", False)
    await selections.set_enabled(other.grant_id, "eng", "demo", False)
    grants = [mine.grant_id, other.grant_id, third.grant_id]
    assert await selections.disabled_among(grants, "team") == {
        mine.grant_id: {"demo"},
        other.grant_id: {"time"},
    }
    assert await selections.disabled_among([], "team") == {}
