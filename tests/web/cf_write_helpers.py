"""A portal whose portals and servers live in the store, served over HTTP for the admin
API's write tests: its database file, a log file of every `codemode.*` record, named
admin tokens, and a real streamable-HTTP upstream that wants a bearer token."""

from __future__ import annotations

import logging
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
from anyio.from_thread import BlockingPortal
from cloudflare import Cloudflare

from engine import Config, Gateway
from engine.config_store import running_config
from tests.upstreams.harness import RunningServer
from tests.web.conftest import VENV_BIN, _app, _poll, _serving

ACCOUNT = "acct-w"
UPSTREAM_SECRET = "upstream-api-" + uuid.uuid4().hex
HEADER_SECRET = "header-secret-" + uuid.uuid4().hex
CLIENT_SECRET = "client-secret-" + uuid.uuid4().hex
PREFIX = f"/client/v4/accounts/{ACCOUNT}/access/ai-controls/mcp"


def seed_config(tmp: Path, *, mode: str = "store") -> Config:
    return Config.from_dict(
        {
            "servers": [
                {"id": "time", "name": "Clock", "command": str(VENV_BIN / "mcp-server-time")},
            ],
            "portals": [{"id": "main", "name": "Main", "servers": [{"server_id": "time"}]}],
            "admin": {"account_id": ACCOUNT, "config": mode},
            "settings": {
                "request_log_path": str(tmp / "requests.sqlite3"),
                "database_url": f"sqlite+aiosqlite:///{tmp / 'codemode.db'}",
            },
        }
    )


def stdio_demo() -> dict[str, Any]:
    return {"command": sys.executable, "args": ["-m", "tests.upstreams.demo", "--stdio"]}


@dataclass
class Running:
    base: str
    gateway: Gateway
    portal: BlockingPortal
    tokens: dict[str, str]
    tmp: Path

    @property
    def db(self) -> Path:
        return self.tmp / "codemode.db"

    def sdk(self, who: str = "writer") -> Any:
        client = Cloudflare(
            api_token=self.tokens[who], base_url=f"{self.base}/client/v4", max_retries=0
        )
        return client.zero_trust.access.ai_controls.mcp

    def http(self, method: str, path: str, who: str = "writer", **kw: Any) -> httpx2.Response:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        return httpx2.request(
            method, f"{self.base}{PREFIX}{path}", headers=headers, timeout=60, **kw
        )

    def wait_status(self, server_id: str, *states: str) -> None:
        def done() -> bool:
            status = self.gateway.catalog.status().get(server_id)
            return status is not None and status.state.value in states

        self.portal.call(_poll, done, f"{server_id} to be {states}")


@contextmanager
def log_file(path: Path) -> Iterator[None]:
    """Every record of the `codemode` loggers (DEBUG and up) into `path`."""
    handler = logging.FileHandler(path)
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger("codemode")
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(old)
        handler.close()


@contextmanager
def run_portal(
    portal: BlockingPortal, config: Config, tmp: Path, tokens: dict[str, str] | None = None
) -> Iterator[Running]:
    """Serve `config` as `codemode serve` would (portals and servers from the store); create
    the admin tokens `writer` (write) and `reader` (read) unless `tokens` are given."""
    effective = portal.call(running_config, config)
    with portal.wrap_async_context_manager(Gateway(effective)) as gw:
        assert gw.store is not None
        store = gw.store
        if tokens is None:
            tokens = {
                "writer": portal.call(store.admin_tokens.create, "writer", "write"),
                "reader": portal.call(store.admin_tokens.create, "reader", "read"),
            }
        with _serving(portal, _app(gw, None)) as base:
            yield Running(base, gw, portal, tokens, tmp)


def http_upstream_body(upstream: RunningServer, server_id: str = "web") -> dict[str, Any]:
    return {
        "id": server_id,
        "name": "Web demo",
        "hostname": upstream.url,
        "auth_type": "bearer",
        "auth_credentials": UPSTREAM_SECRET,
    }
