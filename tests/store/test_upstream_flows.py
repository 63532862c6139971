"""Upstream authorizations in progress, in the store (SQLite and PostgreSQL): a state is
claimed once, even by racing callbacks on two replicas (two stores on one database); the code
is encrypted at rest and the state kept only as a digest; flows expire, are replaced by a
newer one for the same credential, and old rows are cleaned up. And the per-credential
`connected_at` / `expired_at` marks every replica reads."""

from __future__ import annotations

import json

import anyio
import pytest
from mcp.shared.auth import OAuthToken

from engine.config import Settings
from engine.store import Store, open_store
from engine.store.db import read
from engine.store.schema import upstream_auth_flows
from engine.store.upstream_flows import FLOW_TTL_S, KEEP_FINISHED_S, FlowOutcome, state_hash
from tests.store.conftest import Clock

pytestmark = pytest.mark.anyio
STATE = "state-" + "s" * 32
CODE = "upstream-authorization-code-" + "c" * 24
RACERS = 8
"""Callbacks racing for one state (bounded)."""


def handed(code: str = CODE) -> str:
    return json.dumps({"url": f"http://127.0.0.1/oauth/upstream/callback?code={code}"})


async def person(store: Store, sub: str = "ana") -> int:
    return (await store.people.sign_in("https://idp.example", sub, email=f"{sub}@x.org")).id


async def test_a_state_is_claimed_once_and_hands_the_code_over(store: Store) -> None:
    ana = await person(store)
    flows = store.upstream_flows
    assert await flows.latest("github", ana) is None
    await flows.begin(STATE, "github", ana, "/connections?portal=main")
    assert await flows.latest("github", ana) == FlowOutcome(False, None)
    assert await flows.latest("github", None) is None  # the admin's is another credential
    assert await flows.callback(STATE) is None  # nothing came yet
    pending = await flows.pending(STATE)
    assert pending is not None and (pending.server_id, pending.person_id) == ("github", ana)
    assert await flows.claim(STATE, handed())
    assert await flows.callback(STATE) == handed()
    assert not await flows.claim(STATE, handed("replayed"))  # a replay finds nothing
    assert await flows.pending(STATE) is None
    assert await flows.callback(STATE) == handed()  # the replay changed nothing
    assert not (await flows.outcome(STATE)).finished
    await flows.finish(STATE, "the token endpoint refused")
    outcome = await flows.outcome(STATE)
    assert outcome.finished and outcome.error == "the token endpoint refused"
    assert await flows.latest("github", ana) == outcome
    assert not await flows.claim("forged", handed())


async def test_racing_replicas_claim_a_state_once(
    store: Store, store_settings: Settings, env: dict[str, str], clock: Clock
) -> None:
    await store.upstream_flows.begin(STATE, "github", None, "/")
    won: list[bool] = []
    async with open_store(store_settings, environ=env, clock=clock) as other:

        async def claim(replica: Store, i: int) -> None:
            won.append(await replica.upstream_flows.claim(STATE, handed(f"{CODE}-{i}")))

        async with anyio.create_task_group() as tg:
            for i in range(RACERS):
                tg.start_soon(claim, store if i % 2 else other, i)
    assert sorted(won) == [False] * (RACERS - 1) + [True]


async def test_the_code_is_encrypted_and_the_state_only_a_digest(store: Store) -> None:
    await store.upstream_flows.begin(STATE, "github", None, "/")
    assert await store.upstream_flows.claim(STATE, handed())
    async with read(store.engine) as conn:
        rows = [r._asdict() for r in await conn.execute(upstream_auth_flows.select())]
    assert len(rows) == 1 and rows[0]["state_hash"] == state_hash(STATE)
    stored = json.dumps(rows, default=str)
    assert CODE not in stored and STATE not in stored
    await store.upstream_flows.finish(STATE, None)
    async with read(store.engine) as conn:
        row = (await conn.execute(upstream_auth_flows.select())).one()
    assert row.callback_enc is None  # the code is forgotten once used


async def test_flows_expire_are_replaced_and_cleaned_up(store: Store, clock: Clock) -> None:
    flows = store.upstream_flows
    await flows.begin(STATE, "github", None, "/")
    clock.advance(FLOW_TTL_S + 1)
    assert await flows.pending(STATE) is None
    assert not await flows.claim(STATE, handed())
    with pytest.raises(LookupError, match="not completed in time"):
        await flows.callback(STATE)
    lapsed = await flows.latest("github", None)
    assert lapsed is not None and lapsed.finished and "not completed in time" in str(lapsed.error)
    # A newer flow for the same credential replaces the unclaimed one at once.
    await flows.begin("second", "github", None, "/")
    await flows.begin("third", "github", None, "/")
    with pytest.raises(LookupError, match="replaced"):
        await flows.callback("second")
    assert await flows.claim("third", handed())
    # Another credential's flow is untouched; long-expired rows go at the next begin.
    await flows.begin("other", "linear", None, "/")
    clock.advance(FLOW_TTL_S + KEEP_FINISHED_S + 1)
    await flows.begin("fourth", "notion", None, "/")
    async with read(store.engine) as conn:
        left = {r.state_hash for r in await conn.execute(upstream_auth_flows.select())}
    assert left == {state_hash("fourth")}


async def test_connected_and_expired_marks_are_in_the_store(store: Store, clock: Clock) -> None:
    ana = await person(store)
    tokens = store.upstream_tokens
    await tokens.set_tokens("github", ana, OAuthToken(access_token="a" * 20, expires_in=60))
    held = await tokens.load("github", ana)
    assert held.connected_at is None and held.expired_at is None
    await tokens.mark_connected("github", ana)
    first = (await tokens.load("github", ana)).connected_at
    assert first == clock.now
    await tokens.mark_expired("github", ana)
    assert (await tokens.load("github", ana)).expired_at == clock.now
    clock.advance(5)
    await tokens.set_tokens("github", ana, OAuthToken(access_token="b" * 20, expires_in=60))
    assert (await tokens.load("github", ana)).expired_at is None  # a refresh worked again
    await tokens.mark_expired("github", ana)
    await tokens.mark_connected("github", ana)
    again = await tokens.load("github", ana)
    assert again.connected_at == clock.now and again.connected_at != first
    assert again.expired_at is None
