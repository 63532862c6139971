"""Portals on a shared PostgreSQL store: a config with the `dev` sign-in (so a test gets real
portal tokens over HTTP, `tests.identity_flow.devflow`) and the time server, and an SDK
client that records the HTTP status of every response it gets."""

from __future__ import annotations

import json
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


def portal_toml(directory: Path, database_url: str) -> Path:
    """`portal_config` as a TOML file for `codemode serve --config`."""
    path = directory / "portal.toml"
    time_server = json.dumps(str(VENV_BIN / "mcp-server-time"))
    path.write_text(
        f"""
[identity]
provider = "dev"

[[policies]]
id = "staff"
decision = "allow"
include = [{{ email_domain = "example.com" }}]

[[servers]]
id = "time"
command = {time_server}
policies = ["staff"]

[[portals]]
id = "team"
policies = ["staff"]
servers = [{{ server_id = "time" }}]

[settings]
request_log_path = {json.dumps(str(directory / "requests.sqlite3"))}
database_url = {json.dumps(database_url)}
secret_key_env = "{SECRET_ENV}"
""",
        encoding="utf-8",
    )
    return path


@dataclass
class Statuses:
    """Every HTTP response a client got: (status, Retry-After header or None)."""

    seen: list[tuple[int, str | None]] = field(default_factory=list)

    async def record(self, response: httpx2.Response) -> None:
        self.seen.append((response.status_code, response.headers.get("retry-after")))


@asynccontextmanager
async def client(
    url: str,
    token: str,
    statuses: Statuses | None = None,
    *,
    mode: str = "auto",
    host: str | None = None,
) -> AsyncIterator[Client]:
    """An SDK client with the portal token: 2026-07-28-era (`auto`, stateless: no session) or
    2025-11-25-era (`legacy`, with an `Mcp-Session-Id`); `host` overrides the Host header."""
    headers = {"Authorization": f"Bearer {token}"}
    if host is not None:
        headers["Host"] = host
    http = create_mcp_http_client(headers=headers)
    if statuses is not None:
        http.event_hooks["response"].append(statuses.record)
    async with Client(streamable_http_client(url, http_client=http), mode=mode) as c:
        yield c
