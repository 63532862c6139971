"""A real gateway served over HTTP on 127.0.0.1 for the homepage and admin API tests.

Upstreams: mcp-server-time (stdio, Ready) and a streamable-HTTP server on a closed port
(Error). Two portals: `main` (the one `/` shows on 127.0.0.1) and `private` (hostname
`private.example.test`, code mode off, an API key). The gateway and uvicorn run on an event
loop in a worker thread (anyio's blocking portal), so tests are plain functions that talk
HTTP and can still run coroutines on the gateway's loop.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import anyio
import pytest
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.applications import Starlette

from engine import Config, Gateway
from engine.credentials import hash_api_key
from engine.server.app import create_app
from tests.env import restore_env
from tests.upstreams.harness import free_port

VENV_BIN = Path(sys.executable).parent
ADMIN_TOKEN = "admin-" + uuid.uuid4().hex
UPSTREAM_TOKEN = "upstream-secret-" + uuid.uuid4().hex
UPSTREAM_TOKEN_ENV = "CODEMODE_WEB_TEST_UPSTREAM_TOKEN"
API_KEY = "portal-key-" + uuid.uuid4().hex
PORTAL_NAME = "Team tools & <clocks>"
DESCRIPTION = 'Current time and conversions for every <timezone> & city: "now" is one call.'
START_TIMEOUT_S = 30.0
POLL_S = 0.05

T = TypeVar("T")


def web_config(down_port: int) -> Config:
    return Config.from_dict(
        {
            "servers": [
                {"id": "time", "name": "Clock", "command": str(VENV_BIN / "mcp-server-time")},
                {
                    "id": "down",
                    "name": "Offline service",
                    # A bearer token from the environment: it may never be shown.
                    "url": f"http://127.0.0.1:{down_port}/mcp",
                    "auth_type": "bearer",
                    "bearer_token_env": UPSTREAM_TOKEN_ENV,
                    "connect_timeout_s": 5,
                },
            ],
            "portals": [
                {
                    "id": "main",
                    "name": PORTAL_NAME,
                    "description": DESCRIPTION,
                    "servers": [
                        {
                            "server_id": "time",
                            "updated_tools": [{"name": "convert_time", "portal_alias": "convert"}],
                        },
                        {"server_id": "down"},
                    ],
                },
                {
                    "id": "private",
                    "name": "Private",
                    "hostname": "private.example.test",
                    "allow_code_mode": False,
                    "api_keys": [hash_api_key(API_KEY)],
                    "servers": [{"server_id": "time"}],
                },
            ],
            "settings": {"request_log_path": ":memory:"},
        }
    )


@dataclass
class Served:
    """A running app: its base URL, the gateway behind it and the loop it runs on."""

    base: str
    gateway: Gateway
    portal: BlockingPortal

    def run(self, fn: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Run a coroutine function on the server's event loop and return its result."""
        return self.portal.call(fn, *args)


def _app(gateway: Gateway, admin_token: str | None) -> Starlette:
    """The production app (homepage and admin routes mounted beside `/mcp`)."""
    return create_app(gateway, admin_token=admin_token)


@contextmanager
def _serving(portal: BlockingPortal, app: Starlette) -> Iterator[str]:
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="on", log_level="warning")
    )
    portal.start_task_soon(server.serve)

    portal.call(_poll, lambda: server.started, "uvicorn to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True


async def _poll(done: Callable[[], bool], what: str) -> None:
    """Wait (bounded) for a condition that nothing signals: uvicorn and catalog state."""
    for _ in range(int(START_TIMEOUT_S / POLL_S)):
        if done():
            return
        await anyio.sleep(POLL_S)
    raise TimeoutError(f"gave up waiting for {what} after {START_TIMEOUT_S} s")


def _settled(gateway: Gateway) -> bool:
    """No server is Waiting: the first connection attempts have finished."""
    return all(s.state.value != "Waiting" for s in gateway.catalog.status().values())


@contextmanager
def serve_config(portal: BlockingPortal, config: Config) -> Iterator[Served]:
    """A gateway for `config`, its upstreams settled, served (without an admin token)."""
    with portal.wrap_async_context_manager(Gateway(config)) as gw:
        portal.call(_poll, lambda: _settled(gw), "upstreams to settle")
        with _serving(portal, _app(gw, None)) as base:
            yield Served(base, gw, portal)


@pytest.fixture(scope="session")
def blocking_portal() -> Iterator[BlockingPortal]:
    with start_blocking_portal("asyncio") as portal:
        yield portal


@pytest.fixture(scope="session")
def gateway(blocking_portal: BlockingPortal) -> Iterator[Gateway]:
    previous_env = os.environ.get(UPSTREAM_TOKEN_ENV)
    os.environ[UPSTREAM_TOKEN_ENV] = UPSTREAM_TOKEN
    try:
        cm = Gateway(web_config(free_port()))
        with blocking_portal.wrap_async_context_manager(cm) as gw:
            blocking_portal.call(_poll, lambda: _settled(gw), "upstreams to settle")
            yield gw
    finally:
        restore_env(UPSTREAM_TOKEN_ENV, previous_env)


@pytest.fixture(scope="session")
def served(blocking_portal: BlockingPortal, gateway: Gateway) -> Iterator[Served]:
    with _serving(blocking_portal, _app(gateway, ADMIN_TOKEN)) as base:
        yield Served(base, gateway, blocking_portal)


@pytest.fixture(scope="session")
def served_without_token(blocking_portal: BlockingPortal, gateway: Gateway) -> Iterator[str]:
    with _serving(blocking_portal, _app(gateway, None)) as base:
        yield base
