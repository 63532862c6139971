"""A portal with `[identity] provider = "dev"` served on 127.0.0.1 (real HTTP, uvicorn in a
thread), its store a SQLite file in a temporary directory or (each test again) a PostgreSQL
database, and a browser that is an httpx2
client keeping cookies and following redirects by hand (`Browser`).

Portals: `team` (the time server; people of example.com), `other` (the same server; nobody
but ops@example.com) for tokens used on the wrong portal, and `empty` (people of example.com
may enter but see no server: "No allowed servers available ...").
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx2
import pytest

from engine import Config
from engine.credentials import hash_api_key
from tests.server.conftest import VENV_BIN, ServedPortal

SECRET_ENV = "CODEMODE_IDENTITY_FLOW_TEST_KEY"
CI_KEY = "ci-key-" + secrets.token_hex(16)
NO_ACCESS = "Ask the portal team for access."


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


def identity_config(directory: Path, database_url: str | None = None) -> Config:
    return Config.from_dict(
        {
            "identity": {"provider": "dev", "no_access_message": NO_ACCESS},
            "policies": [
                {
                    "id": "staff",
                    "decision": "allow",
                    "include": [{"email_domain": "example.com"}, {"service": "ci"}],
                },
                {"id": "ops", "decision": "allow", "include": [{"email": "ops@example.com"}]},
                {"id": "nobody", "decision": "allow", "include": [{"email": "no@example.org"}]},
            ],
            "servers": [
                {
                    "id": "time",
                    "command": str(VENV_BIN / "mcp-server-time"),
                    "policies": ["staff"],
                },
                {
                    "id": "clock",
                    "command": str(VENV_BIN / "mcp-server-time"),
                    "policies": ["nobody"],
                },
            ],
            "portals": [
                {
                    "id": "team",
                    "name": "Team portal",
                    "policies": ["staff"],
                    "api_keys": [{"name": "ci", "sha256": hash_api_key(CI_KEY)}],
                    "servers": [{"server_id": "time"}],
                },
                {
                    "id": "other",
                    "policies": ["ops"],
                    "servers": [{"server_id": "time"}],
                },
                {
                    "id": "empty",
                    "policies": ["staff"],
                    "servers": [{"server_id": "clock"}],
                },
            ],
            "settings": {
                "request_log_path": ":memory:",
                "database_url": database_url or f"sqlite+aiosqlite:///{directory / 'codemode.db'}",
                "secret_key_env": SECRET_ENV,
            },
        }
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def served(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[ServedPortal]:
    """The portal, its store on a SQLite file, then (the module's tests again) on PostgreSQL."""
    mp = pytest.MonkeyPatch()
    mp.setenv(SECRET_ENV, secrets.token_urlsafe(32))
    database_url = None
    if request.param == "postgresql":
        database_url = request.getfixturevalue("pg_cluster").new_database()
    directory = tmp_path_factory.mktemp("identity")
    portal = ServedPortal(identity_config(directory, database_url))
    portal.start()
    try:
        yield portal
    finally:
        portal.stop()
        mp.undo()


def form_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match, f"no {name} field in the page"
    return match.group(1)


@dataclass
class Browser:
    """A person's browser: cookies, and redirects followed by hand until a page or the
    client's redirect URI (`stop_at`), which is never fetched."""

    base: str
    http: httpx2.AsyncClient = field(init=False)
    last: httpx2.Response | None = None

    def __post_init__(self) -> None:
        self.http = httpx2.AsyncClient(follow_redirects=False, timeout=30)

    async def close(self) -> None:
        await self.http.aclose()

    async def go(
        self, method: str, url: str, *, data: dict[str, str] | None = None, stop_at: str = ""
    ) -> httpx2.Response | str:
        """The final page, or the URL on `stop_at` the browser was sent to."""
        response = await self.http.request(method, urljoin(self.base, url), data=data)
        for _ in range(10):
            if response.status_code not in (301, 302, 303, 307):
                self.last = response
                return response
            location = urljoin(str(response.url), response.headers["location"])
            if stop_at and location.startswith(stop_at):
                return location
            response = await self.http.get(location)
        raise AssertionError("too many redirects")

    async def sign_in(
        self, page: httpx2.Response, email: str, groups: str = ""
    ) -> httpx2.Response | str:
        """Fill the dev sign-in form shown on `page`."""
        assert "/auth/dev" in str(page.url), page.text[:200]
        return await self.go(
            "POST",
            "/auth/dev",
            data={
                "email": email,
                "groups": groups,
                "next": form_value(page.text, "next"),
                "csrf": form_value(page.text, "csrf"),
            },
        )


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
