"""`ConnectPromptStore`: which on_behalf servers of a portal a person was asked about; a
server is new to them exactly once, per portal, and a person's rows go with them."""

from __future__ import annotations

import pytest
from sqlalchemy import delete

from engine.store import Store
from engine.store.db import write
from engine.store.schema import people

pytestmark = pytest.mark.anyio


async def test_each_server_is_new_once_per_person_and_portal(store: Store) -> None:
    prompts = store.connect_prompts
    ana = (await store.people.sign_in("https://idp.example", "ana", email="ana@example.com")).id
    bob = (await store.people.sign_in("https://idp.example", "bob", email="bob@example.com")).id
    assert await prompts.asked(ana, "main") == frozenset()
    assert await prompts.record(ana, "main", ["a", "b"]) is True
    assert await prompts.record(ana, "main", ["b", "a"]) is False  # nothing new: no second ask
    assert await prompts.record(ana, "main", ["b", "c"]) is True
    assert await prompts.asked(ana, "main") == {"a", "b", "c"}
    assert await prompts.asked(ana, "other") == frozenset()
    assert await prompts.asked(bob, "main") == frozenset()
    assert await prompts.record(bob, "main", []) is False
    async with write(store.engine) as conn:
        await conn.execute(delete(people).where(people.c.id == ana))
    assert await prompts.asked(ana, "main") == frozenset()
