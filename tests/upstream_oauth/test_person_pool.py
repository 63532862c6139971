"""The per-person session pool (`engine.person_sessions.PersonSessions`) on real parts: the
test MCP server behind its real authorization server, tokens obtained by the SDK's flow for
two people and kept in a real store. The pool stays at its cap (the least recently used idle
session is closed), closes idle sessions, closes a server's sessions on request and (through
the catalog) when the server's config changes, and a person without a token gets
`UpstreamConnectRequired` without any session being opened."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import mcp_types as types
import pytest

from engine.catalog import Catalog
from engine.config import Config, ServerConfig
from engine.person_sessions import PersonSessions, UpstreamConnectRequired
from engine.store import open_store
from tests.identity.harness import missing_tools
from tests.upstream_oauth.harness import Protected, connect_person, protected_upstream

IDLE_S = 0.5
WAIT_STEPS = 100
"""Polls of 0.05 s for the idle close (bounded)."""


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Protected]:
    reason = missing_tools()
    if reason is not None:
        pytest.skip(reason)
    with protected_upstream(tmp_path_factory.mktemp("person-pool"), ttl_s=60) as protected:
        yield protected


def _text(result: types.CallToolResult) -> str:
    return "".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def _scenario(directory: Path, up: Protected) -> list[str]:
    settings = Config.from_dict(
        {"settings": {"database_url": f"sqlite+aiosqlite:///{directory}/db"}}, base_dir=directory
    ).settings
    server = ServerConfig(id="prot", url=up.url, auth_type="oauth")
    steps: list[str] = []
    async with open_store(settings) as store:
        ana = await store.people.sign_in("test", "ana", email="ana@example.com")
        bob = await store.people.sign_in("test", "bob", email="bob@example.com")
        cy = await store.people.sign_in("test", "cy", email="cy@example.com")
        await connect_person(store, up, ana.id, "ana")
        await connect_person(store, up, bob.id, "bob")
        pool = PersonSessions(store.upstream_tokens, cap=1, idle_s=IDLE_S)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pool.run)

            async def call(person_id: int) -> str:
                result = await pool.call_tool(server, None, person_id, "URL", "whoami", {})
                return _text(result)

            steps.append(await call(ana.id))
            steps.append(f"open {len(pool)}")
            steps.append(await call(bob.id))  # at the cap: ana's idle session makes room
            steps.append(f"open {len(pool)}")
            steps.append(await call(ana.id))
            try:
                await call(cy.id)
            except UpstreamConnectRequired as exc:
                steps.append(f"cy: {exc.url} expired={exc.expired}")
            steps.append(f"open {len(pool)}")
            for _ in range(WAIT_STEPS):
                if len(pool) == 0:
                    break
                await anyio.sleep(0.05)
            steps.append(f"after idle {len(pool)}")
            steps.append(await call(bob.id))
            steps.append(f"closed {pool.close(server_id='prot')}, open {len(pool)}")
            tg.cancel_scope.cancel()
    return steps


def test_the_pool_is_bounded_closes_idle_sessions_and_never_opens_without_a_token(
    up: Protected, tmp_path: Path
) -> None:
    assert anyio.run(_scenario, tmp_path, up) == [
        "ana",
        "open 1",
        "bob",
        "open 1",
        "ana",
        "cy: URL expired=False",
        "open 1",
        "after idle 0",
        "bob",
        "closed 1, open 0",
    ]


async def _slow_open_scenario(directory: Path, up: Protected) -> str:
    url = f"sqlite+aiosqlite:///{directory}/db"
    settings = Config.from_dict({"settings": {"database_url": url}}, base_dir=directory).settings
    server = ServerConfig(id="prot", url=up.url, auth_type="oauth")
    async with open_store(settings) as store:
        ana = await store.people.sign_in("test", "ana", email="ana@example.com")
        await connect_person(store, up, ana.id, "ana")
        # Idle after 10 ms, swept every 50 ms: opening the session (OAuth, initialize) takes
        # longer than that, and a session being opened is not idle.
        pool = PersonSessions(store.upstream_tokens, idle_s=0.01)
        async with anyio.create_task_group() as tg:
            tg.start_soon(pool.run)
            result = await pool.call_tool(server, None, ana.id, "URL", "whoami", {})
            tg.cancel_scope.cancel()
    return _text(result)


def test_a_session_being_opened_is_not_closed_as_idle(up: Protected, tmp_path: Path) -> None:
    assert anyio.run(_slow_open_scenario, tmp_path, up) == "ana"


async def _catalog_scenario(directory: Path, up: Protected) -> list[str]:
    url = f"sqlite+aiosqlite:///{directory}/db"
    settings = Config.from_dict({"settings": {"database_url": url}}, base_dir=directory).settings
    server = ServerConfig(id="prot", url=up.url, auth_type="oauth")
    steps: list[str] = []
    async with open_store(settings) as store:
        ana = await store.people.sign_in("test", "ana", email="ana@example.com")
        await connect_person(store, up, ana.id, "ana")
        catalog = Catalog([server])
        catalog.use_upstream_tokens(store.upstream_tokens)
        async with catalog:
            assert catalog.people is not None
            result = await catalog.call_tool("prot", "whoami", {}, person_id=ana.id)
            steps.append(f"{_text(result)}, open {len(catalog.people)}")
            changed = server.model_copy(update={"call_timeout_s": 30.0})
            detached = catalog.replace([changed], ["prot"])  # its config changed
            steps.append(f"after the change, open {len(catalog.people)}")
            await catalog.close(detached)
            result = await catalog.call_tool("prot", "whoami", {}, person_id=ana.id)
            steps.append(f"{_text(result)}, open {len(catalog.people)}")
    return steps


def test_a_config_change_closes_the_servers_person_sessions(up: Protected, tmp_path: Path) -> None:
    assert anyio.run(_catalog_scenario, tmp_path, up) == [
        "ana, open 1",
        "after the change, open 0",
        "ana, open 1",
    ]
