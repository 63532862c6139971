"""Fixtures for catalog tests: real upstream servers as subprocesses."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import anyio
import pytest

from engine.catalog import Catalog
from engine.status import ServerState
from tests.upstreams.harness import REPO, RunningServer, demo_argv, running

TOKEN = "demo-token-" + uuid.uuid4().hex
"""The bearer secret; tests assert it never leaks."""
TOKEN_ENV = "CODEMODE_TEST_DEMO_TOKEN"
VENV_BIN = Path(sys.executable).parent
EVERYTHING = REPO / "node_modules" / ".bin" / "mcp-server-everything"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def token_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return TOKEN_ENV


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    return tmp_path


@pytest.fixture
def demo() -> Iterator[RunningServer]:
    """The demo server over streamable HTTP (2026 era available), requiring the bearer token."""
    with running(demo_argv(), env={"DEMO_TOKEN": TOKEN}) as server:
        yield server


@pytest.fixture
def legacy_demo() -> Iterator[RunningServer]:
    """The demo server refusing 2026-era requests: initialize handshake and Mcp-Session-Id."""
    with running(demo_argv("--legacy")) as server:
        yield server


def demo_stdio_args(tag: str = "") -> list[str]:
    return ["-m", "tests.upstreams.demo", "--stdio", *(["--tag", tag] if tag else [])]


async def eventually(
    predicate: Callable[[], bool], what: str, *, limit_s: float = 15.0, step_s: float = 0.05
) -> None:
    """Wait until `predicate()` holds; fail naming `what` after `limit_s` (a bound, not timing)."""
    for _ in range(int(limit_s / step_s)):
        if predicate():
            return
        await anyio.sleep(step_s)
    pytest.fail(f"gave up after {limit_s} s waiting for: {what}")


async def eventually_async(
    predicate: Callable[[], Awaitable[bool]], what: str, *, limit_s: float = 15.0
) -> None:
    for _ in range(int(limit_s / 0.05)):
        if await predicate():
            return
        await anyio.sleep(0.05)
    pytest.fail(f"gave up after {limit_s} s waiting for: {what}")


def tool_names(catalog: Catalog, server_id: str) -> set[str]:
    return {tool.name for tool in catalog.tools(server_id)}


def is_ready(catalog: Catalog, server_id: str) -> bool:
    return catalog.status()[server_id].state is ServerState.READY
