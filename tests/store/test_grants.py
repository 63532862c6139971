"""The grant store's rules: single-use codes, rotating refresh tokens, revocation (seen
within 1 s by another process's cache), expiry, and nothing secret stored in the clear."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.config import Settings
from engine.store import GrantError, Store, open_store
from engine.store.grants import token_hash
from engine.store.schema import metadata, oauth_clients, upstream_oauth_states
from tests.store.conftest import (
    RESOURCE,
    Clock,
    connect,
    new_code,
    person_and_client,
    settings_for,
)

pytestmark = pytest.mark.anyio


def database_bytes(directory: Path) -> bytes:
    """The database file with its WAL and shared-memory files, as they are on disk."""
    return b"".join(p.read_bytes() for p in sorted(directory.glob("codemode.db*")))


async def dump(store: Store) -> str:
    """Every row of every table, as the database returns them (on either backend)."""
    lines: list[str] = []
    async with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            lines += [repr(tuple(row)) for row in await conn.execute(select(table))]
    return "\n".join(lines)


async def test_code_is_single_use_and_a_replay_revokes_its_tokens(store: Store) -> None:
    person_id, client_id = await person_and_client(store)
    code = await new_code(store, person_id, client_id)
    loaded = await store.grants.load_authorization_code(code.code, client_id)
    assert loaded is not None
    assert (loaded.person_id, loaded.resource, loaded.scopes) == (person_id, RESOURCE, ["mcp"])
    pair = await store.grants.exchange_authorization_code(code.code, client_id)
    assert pair is not None
    assert await store.grants.verify_access_token(pair.access_token) is not None

    # Replayed: nothing, and what the first use got is revoked.
    assert await store.grants.exchange_authorization_code(code.code, client_id) is None
    assert await store.grants.verify_access_token(pair.access_token) is None
    assert await store.grants.rotate_refresh_token(pair.refresh_token, client_id) is None
    assert await store.grants.connected_clients(person_id) == []


async def test_loading_a_used_code_also_revokes(store: Store) -> None:
    pair = await connect(store)
    person_id, client_id = await person_and_client(store)
    code = await new_code(store, person_id, client_id)
    second = await store.grants.exchange_authorization_code(code.code, client_id)
    assert second is not None
    assert await store.grants.load_authorization_code(code.code, client_id) is None
    assert await store.grants.verify_access_token(second.access_token) is None
    assert await store.grants.verify_access_token(pair.access_token) is not None  # other grant


async def test_concurrent_exchanges_of_one_code_give_one_pair_then_revoke(
    store_settings: Settings, env: dict[str, str], clock: Clock
) -> None:
    async with (
        open_store(store_settings, environ=env, clock=clock) as a,
        open_store(store_settings, environ=env, clock=clock) as b,
    ):
        person_id, client_id = await person_and_client(a)
        code = await new_code(a, person_id, client_id)
        results = await asyncio.gather(
            a.grants.exchange_authorization_code(code.code, client_id),
            b.grants.exchange_authorization_code(code.code, client_id),
        )
        winners = [r for r in results if r is not None]
        assert len(winners) == 1
        # The loser's use is a replay: the grant is revoked, so the winner's token is too.
        for pair in winners:
            assert await a.grants.verify_access_token(pair.access_token) is None


async def test_code_of_another_client_or_expired_is_refused(store: Store, clock: Clock) -> None:
    person_id, client_id = await person_and_client(store)
    code = await new_code(store, person_id, client_id)
    assert await store.grants.load_authorization_code(code.code, "someone-else") is None
    assert await store.grants.exchange_authorization_code(code.code, "someone-else") is None
    clock.advance(301)
    assert await store.grants.load_authorization_code(code.code, client_id) is None
    assert await store.grants.exchange_authorization_code(code.code, client_id) is None
    assert await store.grants.load_authorization_code("never-issued", client_id) is None


async def test_refresh_rotates_and_reuse_revokes_the_grant(store: Store) -> None:
    first = await connect(store)
    info = await store.grants.load_refresh_token(first.refresh_token, first.client_id)
    assert info is not None and info.kind == "refresh"
    second = await store.grants.rotate_refresh_token(first.refresh_token, first.client_id)
    assert second is not None and second.grant_id == first.grant_id
    assert second.refresh_token != first.refresh_token
    third = await store.grants.rotate_refresh_token(second.refresh_token, first.client_id)
    assert third is not None
    assert await store.grants.verify_access_token(third.access_token) is not None

    # The first refresh token again: stolen or replayed, so the whole grant goes.
    assert await store.grants.rotate_refresh_token(first.refresh_token, first.client_id) is None
    assert await store.grants.verify_access_token(third.access_token) is None
    assert await store.grants.rotate_refresh_token(third.refresh_token, first.client_id) is None


async def test_loading_a_consumed_refresh_token_revokes_the_grant(store: Store) -> None:
    first = await connect(store)
    second = await store.grants.rotate_refresh_token(first.refresh_token, first.client_id)
    assert second is not None
    assert await store.grants.load_refresh_token(first.refresh_token, first.client_id) is None
    assert await store.grants.verify_access_token(second.access_token) is None


async def test_refresh_scopes_can_narrow_but_not_widen(store: Store) -> None:
    first = await connect(store)
    with pytest.raises(GrantError, match="were not granted"):
        await store.grants.rotate_refresh_token(first.refresh_token, first.client_id, ["admin"])
    narrowed = await store.grants.rotate_refresh_token(first.refresh_token, first.client_id, [])
    assert narrowed is not None and narrowed.scopes == []


async def test_refresh_token_of_another_client_is_refused(store: Store) -> None:
    first = await connect(store)
    assert await store.grants.rotate_refresh_token(first.refresh_token, "other") is None
    assert await store.grants.load_refresh_token(first.refresh_token, "other") is None
    # Not consumed by the refusal.
    assert await store.grants.rotate_refresh_token(first.refresh_token, first.client_id)


async def test_access_token_is_bound_to_its_portal_and_kind(store: Store) -> None:
    pair = await connect(store)
    assert await store.grants.verify_access_token(pair.access_token, resource=RESOURCE)
    assert (
        await store.grants.verify_access_token(pair.access_token, resource="https://b/mcp") is None
    )
    assert await store.grants.verify_access_token(pair.refresh_token) is None
    assert await store.grants.verify_access_token("made-up") is None


async def test_expired_tokens_are_refused(store: Store, clock: Clock) -> None:
    pair = await connect(store)
    assert await store.grants.verify_access_token(pair.access_token) is not None  # now cached
    clock.advance(3600)
    assert await store.grants.verify_access_token(pair.access_token) is None
    clock.advance(2_592_000 - 3600)
    assert await store.grants.rotate_refresh_token(pair.refresh_token, pair.client_id) is None


async def test_revoking_tokens(store: Store) -> None:
    pair = await connect(store)
    assert await store.grants.verify_access_token(pair.access_token) is not None
    assert await store.grants.revoke_token(pair.access_token)
    assert await store.grants.verify_access_token(pair.access_token) is None  # cache dropped
    fresh = await store.grants.rotate_refresh_token(pair.refresh_token, pair.client_id)
    assert fresh is not None  # revoking an access token leaves the grant
    assert await store.grants.revoke_token(fresh.refresh_token)
    assert await store.grants.verify_access_token(fresh.access_token) is None  # grant went
    assert not await store.grants.revoke_token("unknown")


async def test_revocation_is_seen_by_another_process_cache_within_1s(
    store_settings: Settings, env: dict[str, str]
) -> None:
    async with (
        open_store(store_settings, environ=env) as portal_a,
        open_store(store_settings, environ=env) as portal_b,
    ):
        pair = await connect(portal_a)
        assert await portal_b.grants.verify_access_token(pair.access_token) is not None
        person = await portal_a.people.by_email("ana@example.com")
        assert person is not None
        await portal_a.grants.revoke_person(person.id)
        revoked_at = time.monotonic()
        while await portal_b.grants.verify_access_token(pair.access_token) is not None:
            assert time.monotonic() - revoked_at < 1.0, "revocation not seen within 1 s"
            await asyncio.sleep(0.02)


async def test_cache_is_bounded_and_at_most_1s(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at most 1 s"):
        async with open_store(settings_for(tmp_path), environ={}, cache_ttl_s=2):
            pass
    async with open_store(settings_for(tmp_path), environ={}) as store:
        store.grants._cache.size = 3
        pairs = [await connect(store, f"Client {i}") for i in range(5)]
        for pair in pairs:
            assert await store.grants.verify_access_token(pair.access_token) is not None
        assert len(store.grants._cache) == 3


async def test_sign_out_revokes_everything_of_one_person_and_summarises(
    store: Store,
) -> None:
    pairs = [
        await connect(store, "Claude Code"),
        await connect(store, "Claude Code"),
        await connect(store, "Cursor"),
    ]
    bob = await store.people.sign_in("https://idp.example", "bob", email="bob@example.com")
    bob_code = await new_code(store, bob.id, pairs[2].client_id)
    bob_pair = await store.grants.exchange_authorization_code(bob_code.code, pairs[2].client_id)
    assert bob_pair is not None
    ana = await store.people.by_sub("https://idp.example", "ana")
    assert ana is not None
    async with store.engine.begin() as conn:
        now = store.grants._now()
        await conn.execute(
            upstream_oauth_states.insert(),
            [
                {"person_id": ana.id, "server_id": "github", "created_at": now, "updated_at": now},
                {"person_id": bob.id, "server_id": "github", "created_at": now, "updated_at": now},
            ],
        )
    listed = await store.grants.connected_clients(ana.id)
    assert sorted(c.client_name for c in listed) == ["Claude Code", "Claude Code", "Cursor"]
    assert all(c.authorized_at is not None and c.last_used_at is not None for c in listed)

    summary = await store.grants.revoke_person(ana.id)
    assert summary.clients == {"Claude Code": 2, "Cursor": 1}
    assert summary.upstream_states_removed == 1
    assert summary.describe() == (
        "revoked 3 client sessions (Claude Code ×2, Cursor), removed 1 server connection"
    )
    for pair in pairs:
        assert await store.grants.verify_access_token(pair.access_token) is None
        assert await store.grants.rotate_refresh_token(pair.refresh_token, pair.client_id) is None
    assert await store.grants.connected_clients(ana.id) == []
    # Bob keeps his session and his upstream connection.
    assert await store.grants.verify_access_token(bob_pair.access_token) is not None
    assert len(await store.grants.connected_clients(bob.id)) == 1
    again = await store.grants.revoke_person(ana.id)
    assert again.describe() == "revoked 0 client sessions, removed 0 server connections"


async def test_clients_round_trip_with_their_secret_encrypted(store: Store) -> None:
    secret = "client-secret-" + "x" * 30
    meta = {"client_name": "Cursor", "redirect_uris": ["cursor://cb"], "client_secret": secret}
    await store.grants.register_client("cursor", meta, client_secret=secret)
    got = await store.grants.get_client("cursor")
    assert got is not None
    assert got.client_secret == secret
    assert "client_secret" not in got.metadata
    assert got.metadata["redirect_uris"] == ["cursor://cb"]
    assert secret not in repr(got)
    async with store.engine.connect() as conn:
        stored = await conn.scalar(select(oauth_clients.c.client_secret_enc))
    assert stored is not None and stored.startswith("v1.")
    assert secret not in await dump(store)
    assert await store.grants.get_client("nobody") is None
    with pytest.raises(GrantError, match="at most 16384"):
        await store.grants.register_client("big", {"client_name": "x" * 20_000})


async def test_grants_need_a_known_client_and_person(store: Store) -> None:
    person_id, client_id = await person_and_client(store)
    with pytest.raises(GrantError, match="no registered client"):
        await new_code(store, person_id, "ghost")
    with pytest.raises(GrantError, match="no person"):
        await new_code(store, 999, client_id)


async def test_codes_and_tokens_are_stored_only_as_digests(
    store: Store, tmp_path: Path, backend: str
) -> None:
    person_id, client_id = await person_and_client(store)
    code = await new_code(store, person_id, client_id)
    pair = await store.grants.exchange_authorization_code(code.code, client_id)
    assert pair is not None
    rotated = await store.grants.rotate_refresh_token(pair.refresh_token, client_id)
    assert rotated is not None
    rows = await dump(store)
    await store.engine.dispose()  # checkpoint the WAL into the file
    raw = database_bytes(tmp_path) if backend == "sqlite" else b""
    if backend == "sqlite":
        with sqlite3.connect(tmp_path / "codemode.db") as conn:
            rows += "\n".join(conn.iterdump())
    for secret in (code.code, pair.access_token, pair.refresh_token, rotated.access_token):
        assert secret.encode() not in raw and secret not in rows
        assert secret not in repr(code) + repr(pair) + repr(rotated)
    assert token_hash(pair.access_token) in rows


async def test_purge_keeps_recent_rows_and_drops_old_ones(store: Store, clock: Clock) -> None:
    pair = await connect(store)
    assert await store.grants.purge() == 0
    clock.advance(2_592_000 + 8 * 86_400)
    assert await store.grants.purge() > 0
    assert await store.grants.count_tokens() == 0
    assert await store.grants.verify_access_token(pair.access_token) is None


async def test_people(store: Store, clock: Clock) -> None:
    ana = await store.people.sign_in("https://idp", "s1", email=" Ana@Example.COM ", name="Ana")
    assert ana.email == "ana@example.com"
    assert await store.people.by_email("ANA@example.com") == ana
    clock.advance(120)
    renamed = await store.people.sign_in("https://idp", "s1", email="ana@example.com", name="A")
    assert (renamed.id, renamed.name, renamed.created_at) == (ana.id, "A", ana.created_at)
    assert renamed.last_seen_at > ana.last_seen_at
    assert await store.people.by_sub("https://other-idp", "s1") is None
    clock.advance(120)
    await store.people.seen(ana.id)
    seen = await store.people.get(ana.id)
    assert seen is not None and seen.last_seen_at == clock.now
    assert await store.people.get(12345) is None


async def test_concurrent_first_sign_ins_make_one_person_and_one_client(
    store_settings: Settings, env: dict[str, str]
) -> None:
    # Update-or-insert from several processes at once: without writes taking turns
    # (PostgreSQL: the advisory write lock) two inserts of one new person would collide.
    async with (
        open_store(store_settings, environ=env) as a,
        open_store(store_settings, environ=env) as b,
    ):
        people = await asyncio.gather(
            *(s.people.sign_in("https://idp", "new", email="n@x.test") for s in [a, b] * 5)
        )
        assert len({p.id for p in people}) == 1
        meta = {"client_name": "Zed", "redirect_uris": ["http://127.0.0.1/cb"]}
        await asyncio.gather(*(s.grants.register_client("zed", meta) for s in [a, b] * 5))
        assert (await a.grants.get_client("zed")) is not None
