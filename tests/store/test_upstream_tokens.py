"""The store's upstream OAuth credentials: the mcp SDK's `TokenStorage` per (server, person),
encrypted at rest, the expiry kept by us (the SDK's token says only `expires_in`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from engine.store import DecryptionError, Store
from engine.store.schema import upstream_oauth_states
from tests.store.conftest import Clock

ACCESS = "upstream-access-token-" + "a" * 24
REFRESH = "upstream-refresh-token-" + "r" * 24
SECRET = "upstream-client-secret-" + "s" * 24
pytestmark = pytest.mark.anyio


def token(expires_in: int | None = 60) -> OAuthToken:
    return OAuthToken(access_token=ACCESS, refresh_token=REFRESH, expires_in=expires_in)


def client() -> OAuthClientInformationFull:
    return OAuthClientInformationFull(
        client_id="dyn-1", client_secret=SECRET, redirect_uris=[AnyUrl("http://127.0.0.1/cb")]
    )


async def test_round_trip_and_the_expiry_counts_down(store: Store, clock: Clock) -> None:
    admin = store.upstream_tokens.storage("github")
    assert await admin.get_tokens() is None and await admin.get_client_info() is None
    await admin.set_client_info(client())
    await admin.set_tokens(token(60))
    clock.advance(45)
    again = store.upstream_tokens.storage("github")  # as after a restart
    restored = await again.get_tokens()
    assert restored is not None and restored.access_token == ACCESS
    assert restored.expires_in == 15  # what is left, not the 60 issued
    assert (await again.get_client_info()) == client()
    clock.advance(30)
    late = await again.get_tokens()
    assert late is not None and late.expires_in == 0


async def test_admin_and_people_rows_are_apart(store: Store) -> None:
    person = await store.people.sign_in("https://idp.example", "ana", email="ana@example.com")
    await store.upstream_tokens.storage("github").set_tokens(token())
    assert await store.upstream_tokens.storage("github", person.id).get_tokens() is None
    assert await store.upstream_tokens.storage("linear").get_tokens() is None
    await store.upstream_tokens.storage("github").set_tokens(token(5))  # replaces, no new row
    held = await store.upstream_tokens.delete("github")
    assert held.tokens is not None and held.tokens.refresh_token == REFRESH
    assert await store.upstream_tokens.storage("github").get_tokens() is None


async def test_nothing_in_the_clear_and_rows_cannot_be_swapped(
    store: Store, tmp_path: Path
) -> None:
    await store.upstream_tokens.storage("github").set_tokens(token())
    await store.upstream_tokens.storage("github").set_client_info(client())
    await store.upstream_tokens.storage("linear").set_tokens(token())
    for path in sorted(tmp_path.glob("*.db*")):  # noqa: ASYNC240 (a test's few files)
        data = path.read_bytes()
        assert ACCESS.encode() not in data and REFRESH.encode() not in data, path
        assert SECRET.encode() not in data, path
    async with store.engine.begin() as conn:
        rows = {r.server_id: r for r in await conn.execute(upstream_oauth_states.select())}
        # github's ciphertext moved into linear's row does not decrypt there.
        await conn.execute(
            upstream_oauth_states.update()
            .where(upstream_oauth_states.c.server_id == "linear")
            .values(tokens_enc=rows["github"].tokens_enc)
        )
    with pytest.raises(DecryptionError):
        await store.upstream_tokens.storage("linear").get_tokens()
