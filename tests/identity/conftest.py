"""One real identity stack for the identity tests (module by module it is the same one):

- the portal's port is picked first, so the IdP can be started with its redirect URIs
  (`<portal>/auth/callback`, post-logout `<portal>/signed-out`);
- the IdP (`idp.mjs`, npm oidc-provider) with the groups below;
- the demo upstream (HTTP, bearer) and mcp-server-time (stdio);
- `codemode serve --config portal.toml` with `[identity]` pointing at the IdP.

People (the IdP accepts any name; email = name, groups from GROUPS):
  ana@example.com    engineering          team: time + demo        eng: yes
  flo@example.com    engineering          (the full flow's person, signed out at its end)
  bob@example.com    -                    team: time (demo hidden) eng: no (group required)
  mallory@example.com                     excluded from staff      -> no access
  eve@example.com                         blocked                  -> no access
  carl@partner.test  contractors          team: let in, no server  -> "No allowed servers ..."
  zoe@elsewhere.test                      no allow matches         -> no access
Service key `ci` (API key matched by name): team, time only.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.credentials import hash_api_key
from tests.identity.harness import (
    SECRET_ENV,
    VENV_BIN,
    Browser,
    Idp,
    Portal,
    http,
    missing_tools,
    start_idp,
    start_portal,
)
from tests.upstreams.harness import RunningServer, demo_argv, free_port, running

DEMO_TOKEN = "demo-upstream-secret-" + secrets.token_hex(8)
DEMO_TOKEN_ENV = "CODEMODE_IDENTITY_TEST_DEMO_TOKEN"
CI_KEY = "ci-service-key-" + secrets.token_hex(16)
NO_ACCESS_MESSAGE = "Ask the it-help channel for access to these tools."
GROUPS = {
    "ana@example.com": ["engineering"],
    "flo@example.com": ["engineering"],
    "carl@partner.test": ["contractors"],
}


def portal_toml(idp: Idp, demo_url: str, data: Path) -> str:
    return f"""
[identity]
issuer = "{idp.issuer}"
client_id = "codemode"
client_secret_env = "{SECRET_ENV}"
scopes = ["openid", "email", "profile", "groups"]
groups_claim = "groups"
no_access_message = "{NO_ACCESS_MESSAGE}"

[settings]
request_log_path = "{data / "requests.sqlite3"}"
request_log_jsonl_path = "{data / "requests.jsonl"}"
database_url = "sqlite+aiosqlite:///{data / "codemode.db"}"

[[policies]]
id = "staff"
decision = "allow"
include = [{{ email_domain = "example.com" }}]
exclude = [{{ email = "mallory@example.com" }}]

[[policies]]
id = "no-eve"
decision = "block"
include = [{{ email = "eve@example.com" }}]

[[policies]]
id = "contractors"
decision = "allow"
include = [{{ group = "contractors" }}]

[[policies]]
id = "engineering"
decision = "allow"
include = [{{ email_domain = "example.com" }}]
require = [{{ group = "engineering" }}]

[[policies]]
id = "ci"
decision = "allow"
include = [{{ service = "ci" }}]

[[servers]]
id = "time"
name = "Clock"
command = "{VENV_BIN / "mcp-server-time"}"
args = ["--local-timezone", "UTC"]
policies = ["staff", "no-eve", "ci"]

[[servers]]
id = "demo"
name = "Demo"
url = "{demo_url}"
auth_type = "bearer"
bearer_token_env = "{DEMO_TOKEN_ENV}"
policies = ["engineering"]

[[portals]]
id = "team"
name = "Team tools"
policies = ["staff", "no-eve", "contractors", "ci"]
api_keys = [{{ name = "ci", sha256 = "{hash_api_key(CI_KEY)}" }}]
servers = [{{ server_id = "time" }}, {{ server_id = "demo" }}]

[[portals]]
id = "eng"
name = "Engineering"
policies = ["engineering"]
servers = [{{ server_id = "time" }}, {{ server_id = "demo" }}]
"""


@dataclass
class Stack:
    idp: Idp
    portal: Portal
    demo: RunningServer
    browser: Browser
    logs: Path
    started_s: float

    def routes_absent(self) -> str | None:
        """Why the identity flow cannot be tested (the product's routes are not there), or
        None. Only absence skips: routes that exist and misbehave fail the tests."""
        with http() as client:
            missing = [
                path
                for path in ("/authorize", "/auth/callback", "/signed-out")
                if client.get(self.portal.origin + path).status_code == 404
            ]
        if len(missing) == 3:
            return (
                "the portal has no identity routes yet (/authorize, /auth/callback, /signed-out "
                "answer 404): the identity flow is being built on branch i-idflow"
            )
        return None


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    missing = missing_tools()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"the identity tests cannot run in CI: {missing}")
        pytest.skip(missing)
    began = time.monotonic()
    logs = tmp_path_factory.mktemp("identity")
    portal_port = free_port()
    origin = f"http://127.0.0.1:{portal_port}"
    idp = start_idp(
        logs,
        redirect_uris=[f"{origin}/auth/callback"],
        post_logout_uris=[f"{origin}/signed-out"],
        groups=GROUPS,
    )
    try:
        with running(demo_argv(), env={"DEMO_TOKEN": DEMO_TOKEN}) as demo:
            env = {SECRET_ENV: idp.secret, DEMO_TOKEN_ENV: DEMO_TOKEN}
            portal = start_portal(logs, portal_port, portal_toml(idp, demo.url, logs), env)
            browser = Browser(logs / "browser")
            try:
                yield Stack(idp, portal, demo, browser, logs, time.monotonic() - began)
            finally:
                browser.close()
                portal.process.stop()
    finally:
        idp.process.stop()


@pytest.fixture(scope="session")
def flow(stack: Stack) -> Stack:
    """The stack, where the portal offers the identity flow (skips, naming why, otherwise)."""
    absent = stack.routes_absent()
    if absent:
        pytest.skip(absent)
    return stack


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"
