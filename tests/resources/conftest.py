"""A running portal with real upstream resources: npm's `@modelcontextprotocol/server-everything`
(stdio, 2025-11-25 era: subscriptions through `resources/subscribe`) and two instances of our
`tests.upstreams.resources_server` (stdio, 2026-07-28 era: subscriptions on `subscriptions/listen`)
that list the same URIs, so their URIs are namespaced.

Portals: `main` (named API keys `ci` and `bot`; all three servers; `res2` is visible to `ci`
only; `everything` curated: one document disabled, one aliased) and `conf` (only `res`, open,
for the conformance suite).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from engine import Config
from engine.credentials import hash_api_key
from tests.catalog.conftest import EVERYTHING
from tests.server.conftest import ServedPortal

KEYS = {name: f"{name}-key-{uuid.uuid4().hex}" for name in ("ci", "bot")}
HIDDEN_DOC = "demo://resource/static/document/features.md"
ALIASED_DOC = "demo://resource/static/document/architecture.md"
SURFACES = [
    "",
    "?optimize_context=minimize_tools",
    "?optimize_context=search_and_execute",
    "?codemode=search_and_execute",
]


def fixture_server(server_id: str, tag: str) -> dict[str, Any]:
    args = ["-m", "tests.upstreams.resources_server", "--tag", tag]
    return {"id": server_id, "command": sys.executable, "args": args}


def resources_config() -> Config:
    keys = [{"name": n, "sha256": hash_api_key(k)} for n, k in KEYS.items()]
    return Config.from_dict(
        {
            "policies": [
                {"id": "everyone", "decision": "allow", "include": [{"everyone": True}]},
                {"id": "ci-only", "decision": "allow", "include": [{"service": "ci"}]},
            ],
            "servers": [
                {
                    "id": "everything",
                    "command": str(EVERYTHING),
                    "updated_resources": [{"name": HIDDEN_DOC, "enabled": False}],
                },
                fixture_server("res", "a"),
                {**fixture_server("res2", "b"), "policies": ["ci-only"]},
            ],
            "portals": [
                {
                    "id": "main",
                    "api_keys": keys,
                    "policies": ["everyone"],
                    "servers": [
                        {
                            "server_id": "everything",
                            "updated_resources": [
                                {
                                    "name": ALIASED_DOC,
                                    "portal_alias": "arch",
                                    "portal_description": "How the server is built.",
                                }
                            ],
                        },
                        {"server_id": "res"},
                        {"server_id": "res2"},
                    ],
                },
                {"id": "conf", "servers": [{"server_id": "res"}]},
            ],
            "settings": {"request_log_path": ":memory:"},
        }
    )


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def served() -> Iterator[ServedPortal]:
    portal = ServedPortal(resources_config())
    portal.start()
    try:
        yield portal
    finally:
        portal.stop()


def url(served: ServedPortal, portal: str, query: str = "") -> str:
    return f"{served.base}/p/{portal}/mcp{query}"


@asynccontextmanager
async def connect(
    address: str, key: str, mode: str = "auto", **options: Any
) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    transport = streamable_http_client(address, http_client=http)
    async with Client(transport, mode=mode, **options) as client:
        yield client
