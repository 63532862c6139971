"""A provider that adopts tokens stored by another takes the client they were issued to."""

from __future__ import annotations

import pytest
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken
from pydantic import AnyUrl

from engine.headless_oauth import HeadlessOAuth
from engine.upstream_oauth import MemoryTokenStorage


def client(client_id: str) -> OAuthClientInformationFull:
    return OAuthClientInformationFull(
        client_id=client_id, redirect_uris=[AnyUrl("http://127.0.0.1:1/callback")]
    )


@pytest.mark.anyio
async def test_tokens_stored_by_a_new_authorization_are_adopted_with_their_client() -> None:
    storage = MemoryTokenStorage()
    storage.tokens = OAuthToken(access_token="a1", refresh_token="r1", expires_in=60)
    storage.client_info = client("registered-by-the-cli")
    provider = HeadlessOAuth("http://127.0.0.1:1/mcp", "inner", storage)
    provider.context.current_tokens = storage.tokens
    provider.context.client_info = storage.client_info

    # authorized again through the portal's own callback: a new registration, new tokens
    storage.tokens = OAuthToken(access_token="a2", refresh_token="r2", expires_in=60)
    storage.client_info = client("registered-by-the-portal")
    await provider._adopt_stored_tokens()

    assert provider.context.current_tokens is not None
    assert provider.context.current_tokens.refresh_token == "r2"
    assert provider.context.client_info is not None
    assert provider.context.client_info.client_id == "registered-by-the-portal"


@pytest.mark.anyio
async def test_the_same_tokens_leave_the_held_client_alone() -> None:
    storage = MemoryTokenStorage()
    storage.tokens = OAuthToken(access_token="a1", refresh_token="r1", expires_in=60)
    storage.client_info = client("c1")
    provider = HeadlessOAuth("http://127.0.0.1:1/mcp", "inner", storage)
    provider.context.current_tokens = storage.tokens
    held = client("held")
    provider.context.client_info = held
    await provider._adopt_stored_tokens()
    assert provider.context.client_info is held
