"""Stores on real databases: each test that takes `store_settings` (or `store`) runs twice, on
a SQLite file in tmp_path and on a new database in a throwaway PostgreSQL cluster; a
controllable clock for expiry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.config import Config, Settings
from engine.store import Store, open_store
from engine.store.grants import IssuedCode, TokenPair
from tests.pg_cluster import PgCluster

RESOURCE = "https://portal.example/mcp"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
PG_SECRET_KEY = "pg-test-secret-key-" + "k" * 32


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


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def env(backend: str) -> dict[str, str]:
    # SQLite: no CODEMODE_SECRET_KEY, the key file is generated beside the database.
    # PostgreSQL has no place for a file: replicas share the key through the environment.
    return {"CODEMODE_SECRET_KEY": PG_SECRET_KEY} if backend == "postgresql" else {}


@pytest.fixture
def store_settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings whose database_url is a new, empty database of the backend."""
    if backend == "sqlite":
        return settings_for(tmp_path)
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return settings_for(tmp_path, database_url=cluster.new_database())


@pytest.fixture
async def store(
    store_settings: Settings, clock: Clock, env: dict[str, str]
) -> AsyncIterator[Store]:
    async with open_store(store_settings, environ=env, clock=clock) as opened:
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
