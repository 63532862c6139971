"""`invalid_among`, the one query behind ending revoked grants' open streams, on SQLite and
PostgreSQL: valid tokens are not reported; a revoked grant's, a revoked token's and an
expired token's digests are; a digest the store does not know is not."""

from __future__ import annotations

import pytest

from engine.store import Store
from engine.store.grants import token_hash
from engine.store.revocations import invalid_among
from tests.store.conftest import Clock, connect

pytestmark = pytest.mark.anyio


async def test_revoked_and_expired_tokens_are_reported(store: Store, clock: Clock) -> None:
    one, two, three = [await connect(store, name) for name in ("One", "Two", "Three")]
    digests = {token_hash(p.access_token): name for p, name in ((one, "one"), (two, "two"))}
    digests[token_hash(three.access_token)] = "three"
    digests["0" * 64] = "unknown"
    assert not await invalid_among(store.engine, digests, clock())

    assert await store.grants.revoke_grant(one.grant_id)
    assert await store.grants.revoke_token(two.access_token)
    invalid = await invalid_among(store.engine, digests, clock())
    assert {digests[d] for d in invalid.revoked} == {"one", "two"}
    assert invalid.expired == set()

    clock.advance(3601)  # past the access tokens' lifetime: revoked ones stay revoked
    invalid = await invalid_among(store.engine, digests, clock())
    assert {digests[d] for d in invalid.revoked} == {"one", "two"}
    assert {digests[d] for d in invalid.expired} == {"three"}
    assert not await invalid_among(store.engine, set(), clock())
