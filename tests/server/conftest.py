"""A real portal server for the HTTP tests: our demo upstream (HTTP, bearer auth) and
mcp-server-time (stdio) behind a gateway, served by uvicorn on a free 127.0.0.1 port in a
thread of its own (its own event loop), so tests can also drive it from blocking subprocesses
(the conformance suite, the MCP Inspector CLI).

Portals: `main` (time + demo, code mode on; the one plain `/mcp` serves), `locked` (demo,
API key, hostname `locked.portal.test`), `nocode` (time, `allow_code_mode = false`, so
`code_mode = "off"`), `defaulton` and `enforced` (time, those `code_mode` policies).
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
import uvicorn
from starlette.applications import Starlette

from engine import Config, Gateway
from engine.credentials import hash_api_key
from engine.server.app import PortalRouter, create_app
from engine.server.mcp_server import PortalServer
from engine.surfaces import Surface
from tests.env import restore_env
from tests.upstreams.harness import RunningServer, demo_argv, free_port, running

DEMO_TOKEN = "demo-secret-" + uuid.uuid4().hex
DEMO_TOKEN_ENV = "CODEMODE_SERVER_TEST_DEMO_TOKEN"
API_KEY = "portal-key-" + uuid.uuid4().hex
LOCKED_HOST = "locked.portal.test"
PUBLIC_HOST = "mcp.public.test"
MAX_BODY_BYTES = 64 * 1024
PROGRESS_INTERVAL_S = 0.2
VENV_BIN = Path(sys.executable).parent
START_TIMEOUT_S = 60.0


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def server_config(demo_url: str) -> Config:
    return Config.from_dict(
        {
            "servers": [
                {"id": "time", "command": str(VENV_BIN / "mcp-server-time")},
                {
                    "id": "demo",
                    "url": demo_url,
                    "auth_type": "bearer",
                    "bearer_token_env": DEMO_TOKEN_ENV,
                },
            ],
            "portals": [
                {
                    "id": "main",
                    "name": "Main portal",
                    "description": "Time and demo tools.",
                    "servers": [
                        {"server_id": "time"},
                        {
                            "server_id": "demo",
                            "updated_tools": [{"name": "crash", "enabled": False}],
                        },
                    ],
                },
                {
                    "id": "locked",
                    "name": "Locked portal",
                    "hostname": LOCKED_HOST,
                    "api_keys": [hash_api_key(API_KEY)],
                    "servers": [{"server_id": "demo"}],
                },
                {
                    "id": "nocode",
                    "name": "No code",
                    "allow_code_mode": False,
                    "servers": [{"server_id": "time"}],
                },
                {
                    "id": "defaulton",
                    "code_mode": "default_on",
                    "servers": [{"server_id": "time"}],
                },
                {
                    "id": "enforced",
                    "code_mode": "enforced",
                    "servers": [{"server_id": "time"}],
                },
            ],
            "settings": {"request_log_path": ":memory:"},
        }
    )


@dataclass
class ServedPortal:
    """The app on a free port, in a thread with its own event loop."""

    config: Config
    app_options: dict[str, Any] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    gateway: Gateway | None = None
    app: Starlette | None = None
    _server: uvicorn.Server | None = None
    _failure: BaseException | None = None
    _ready: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/mcp"

    def mcp_server(self, portal_id: str, surface: Surface) -> PortalServer:
        assert self.app is not None
        router: PortalRouter = self.app.state.portal_router
        return router.endpoints[(portal_id, surface)].server

    def start(self) -> None:
        self._thread = threading.Thread(target=self._main, name="portal-server", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT_S):
            raise RuntimeError(f"the portal server did not start within {START_TIMEOUT_S} s")
        if self._failure is not None:
            raise RuntimeError("the portal server failed to start") from self._failure

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _main(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._failure = exc
        finally:
            self._ready.set()

    async def _serve(self) -> None:
        async with Gateway(self.config) as gateway:
            self.gateway = gateway
            options: dict[str, Any] = {
                "max_body_bytes": MAX_BODY_BYTES,
                "public_hosts": [PUBLIC_HOST],
                "progress_interval_s": PROGRESS_INTERVAL_S,
                **self.app_options,
            }
            self.app = create_app(gateway, **options)
            config = uvicorn.Config(
                self.app,
                host="127.0.0.1",
                port=self.port,
                log_level="warning",
                timeout_graceful_shutdown=2,
            )
            self._server = uvicorn.Server(config)
            serving = asyncio.ensure_future(self._server.serve())
            for _ in range(int(START_TIMEOUT_S / 0.02)):
                if self._server.started or serving.done():
                    break
                await asyncio.sleep(0.02)
            self._ready.set()
            await serving


@pytest.fixture(scope="module")
def demo() -> Iterator[RunningServer]:
    with running(demo_argv(), env={"DEMO_TOKEN": DEMO_TOKEN}) as server:
        yield server


@contextmanager
def serving(demo: RunningServer, **app_options: Any) -> Iterator[ServedPortal]:
    previous_env = os.environ.get(DEMO_TOKEN_ENV)
    os.environ[DEMO_TOKEN_ENV] = DEMO_TOKEN
    portal = ServedPortal(server_config(demo.url), app_options)
    portal.start()
    try:
        yield portal
    finally:
        portal.stop()
        restore_env(DEMO_TOKEN_ENV, previous_env)


@pytest.fixture(scope="module")
def served(demo: RunningServer) -> Iterator[ServedPortal]:
    with serving(demo) as portal:
        yield portal


async def eventually(
    predicate: Callable[[], Awaitable[bool] | bool], what: str, *, limit_s: float = 15.0
) -> None:
    """Wait until `predicate()` holds; fail naming `what` after `limit_s` (a bound, not timing)."""
    for _ in range(int(limit_s / 0.05)):
        value: Any = predicate()
        if isinstance(value, Awaitable):
            value = await value
        if value:
            return
        await anyio.sleep(0.05)
    pytest.fail(f"gave up after {limit_s} s waiting for: {what}")
