"""A real portal for engine tests: mcp-server-time and mcp-server-git over stdio, and our demo
server over streamable HTTP with bearer auth, all as subprocesses; one gateway per module."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine import Config, Gateway, Portal
from tests.env import restore_env
from tests.upstreams.harness import demo_argv, free_port, running

TOKEN = "demo-secret-" + uuid.uuid4().hex
TOKEN_ENV = "CODEMODE_ENGINE_TEST_TOKEN"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    with running(demo_argv(), env={"DEMO_TOKEN": TOKEN}) as server:
        yield server.url


@pytest.fixture(scope="module")
def git_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("repo")
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
    }
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    (repo / "README.md").write_text("hello\n")
    subprocess.run(["git", "-C", str(repo), "add", "."], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-qm", "first commit"], check=True, env=env)
    return repo


def portal_config(demo_url: str, git_repo: Path, **settings: Any) -> Config:
    return Config.from_dict(
        {
            "servers": [
                {"id": "time", "name": "Time", "command": str(VENV_BIN / "mcp-server-time")},
                {
                    "id": "git",
                    "command": str(VENV_BIN / "mcp-server-git"),
                    "args": ["--repository", str(git_repo)],
                    "updated_tools": [
                        {
                            "name": "git_log",
                            "server_alias": "history",
                            "server_description": "Commit history (server override).",
                        },
                        {"name": "git_status", "server_alias": "loses_to_portal"},
                    ],
                },
                {
                    "id": "demo",
                    "url": demo_url,
                    "auth_type": "bearer",
                    "bearer_token_env": TOKEN_ENV,
                },
                {
                    "id": "down",
                    "url": f"http://127.0.0.1:{free_port()}/mcp",
                    "connect_timeout_s": 5,
                },
            ],
            "portals": [
                {
                    "id": "main",
                    "name": "Main",
                    "servers": [
                        {"server_id": "time"},
                        {
                            "server_id": "git",
                            "updated_tools": [
                                {
                                    "name": "git_status",
                                    "portal_alias": "status",
                                    "portal_description": "Working tree status (portal).",
                                },
                                {"name": "git_reset", "enabled": False},
                            ],
                        },
                        {
                            "server_id": "demo",
                            "updated_tools": [{"name": "crash", "enabled": False}],
                        },
                        {"server_id": "down"},
                    ],
                }
            ],
            "settings": {"request_log_path": ":memory:", **settings},
        }
    )


@pytest.fixture(scope="module")
async def gateway(demo_url: str, git_repo: Path) -> AsyncIterator[Gateway]:
    previous_env = os.environ.get(TOKEN_ENV)
    os.environ[TOKEN_ENV] = TOKEN
    try:
        async with Gateway(portal_config(demo_url, git_repo)) as gw:
            yield gw
    finally:
        restore_env(TOKEN_ENV, previous_env)


@pytest.fixture
def portal(gateway: Gateway) -> Portal:
    return gateway.portal("main")
