"""Portals on a shared PostgreSQL store: a config with the `dev` sign-in (so a test gets real
portal tokens over HTTP, `tests.identity_flow.devflow`) and the time server, and an SDK
client that records the HTTP status of every response it gets."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

SECRET_ENV = "CODEMODE_SCALE_TEST_KEY"
SECRET_KEY = "scale-test-secret-" + secrets.token_hex(16)
VENV_BIN = Path(__import__("sys").executable).parent


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def portal_config(database_url: str, directory: Path) -> dict[str, Any]:
    """One portal (`/mcp`) with the time server, people of example.com signed in by the
    built-in `dev` provider, the store at `database_url`."""
    return {
        "identity": {"provider": "dev"},
        "policies": [
            {"id": "staff", "decision": "allow", "include": [{"email_domain": "example.com"}]}
        ],
        "servers": [
            {"id": "time", "command": str(VENV_BIN / "mcp-server-time"), "policies": ["staff"]}
        ],
        "portals": [{"id": "team", "policies": ["staff"], "servers": [{"server_id": "time"}]}],
        "settings": {
            "request_log_path": str(directory / "requests.sqlite3"),
            "database_url": database_url,
            "secret_key_env": SECRET_ENV,
        },
    }


@dataclass
class Statuses:
    """Every HTTP response a client got: (status, Retry-After header or None)."""

    seen: list[tuple[int, str | None]] = field(default_factory=list)

    async def record(self, response: httpx2.Response) -> None:
        self.seen.append((response.status_code, response.headers.get("retry-after")))


@asynccontextmanager
async def client(url: str, token: str, statuses: Statuses | None = None) -> AsyncIterator[Client]:
    """A 2026-07-28-era SDK client (stateless: no session) with the portal token."""
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {token}"})
    if statuses is not None:
        http.event_hooks["response"].append(statuses.record)
    async with Client(streamable_http_client(url, http_client=http), mode="auto") as c:
        yield c
