"""Stores on real SQLite files in tmp_path; a controllable clock for expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.config import Config, Settings
from engine.store import Store, open_store
from engine.store.grants import IssuedCode, TokenPair

RESOURCE = "https://portal.example/mcp"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def settings_for(directory: Path, **values: object) -> Settings:
    return Config.from_dict({"settings": dict(values)}, base_dir=directory).settings


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def env() -> dict[str, str]:
    return {}  # no CODEMODE_SECRET_KEY: the key file is generated


@pytest.fixture
async def store(tmp_path: Path, clock: Clock, env: dict[str, str]) -> AsyncIterator[Store]:
    async with open_store(settings_for(tmp_path), environ=env, clock=clock) as opened:
        yield opened


async def person_and_client(store: Store, name: str = "Claude Code") -> tuple[int, str]:
    person = await store.people.sign_in("https://idp.example", "ana", email="ana@example.com")
    client_id = f"client-{name.replace(' ', '-').lower()}"
    await store.grants.register_client(
        client_id, {"client_name": name, "redirect_uris": ["http://127.0.0.1:3000/cb"]}
    )
    return person.id, client_id


async def new_code(store: Store, person_id: int, client_id: str) -> IssuedCode:
    return await store.grants.save_authorization_code(
        client_id=client_id,
        person_id=person_id,
        resource=RESOURCE,
        scopes=["mcp"],
        redirect_uri="http://127.0.0.1:3000/cb",
        redirect_uri_provided_explicitly=True,
        code_challenge=CHALLENGE,
    )


async def connect(store: Store, name: str = "Claude Code") -> TokenPair:
    """A client through the whole flow: registered, authorized, code exchanged."""
    person_id, client_id = await person_and_client(store, name)
    code = await new_code(store, person_id, client_id)
    pair = await store.grants.exchange_authorization_code(code.code, client_id)
    assert pair is not None
    return pair
