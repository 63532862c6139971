"""`codemode serve --config FILE` re-reads FILE on SIGHUP, as a real subprocess: a key a
policy blocks gets 403; the file is edited to let it in, SIGHUP, and its next request gets
in and lists the servers it now sees; a broken file leaves the old config serving and logs
every problem; a changed server command reconnects that server (a new process, the old one
ended) while a settings change beside it is logged as needing a restart."""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp.client.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from engine.credentials import hash_api_key
from tests.cli.test_serve import READY_TIMEOUT_S, Served
from tests.upstreams.harness import free_port

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.filterwarnings("ignore:The logging capability is deprecated"),
]

TINY = Path(__file__).with_name("tiny_upstream.py")
KEYS = {name: f"{name}-key-{uuid.uuid4().hex}" for name in ("ci", "bot")}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "reload-test", "version": "1"},
    },
}


def toml_config(directory: Path, *, bot_blocked: bool, bot_sees_more: bool, pid: str = "a") -> str:
    """Portal `solo` over two stdlib-only upstreams, `one` and `two`, behind API keys `ci`
    and `bot`. `members` lets every key in (but `bot` when `bot_blocked`); `two` is for `ci`
    (and `bot` too when `bot_sees_more`). `pid` names the pid file of `one`: changing it
    changes that server's args, which reconnects it."""

    def server(sid: str, pidfile: str, policies: list[str]) -> str:
        args = ["-S", str(TINY), str(directory / pidfile)]
        return (
            f'[[servers]]\nid = "{sid}"\ncommand = {json.dumps(sys.executable)}\n'
            f"args = {json.dumps(args)}\npolicies = {json.dumps(policies)}\n"
        )

    exclude = 'exclude = [{ service = "bot" }]\n' if bot_blocked else ""
    two = ["ci-only", "members"] if bot_sees_more else ["ci-only"]
    keys = ", ".join(
        f'{{ name = "{name}", sha256 = "{hash_api_key(key)}" }}' for name, key in KEYS.items()
    )
    return (
        '[[policies]]\nid = "members"\ndecision = "allow"\ninclude = [{ everyone = true }]\n'
        + exclude
        + '[[policies]]\nid = "ci-only"\ndecision = "allow"\ninclude = [{ service = "ci" }]\n'
        + server("one", f"one-{pid}.pid", ["members"])
        + server("two", "two.pid", two)
        + f'[[portals]]\nid = "solo"\npolicies = ["members"]\napi_keys = [{keys}]\n'
        + '[[portals.servers]]\nserver_id = "one"\n[[portals.servers]]\nserver_id = "two"\n'
        + '[settings]\nrequest_log_path = ":memory:"\n'
    )


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "portal.toml"
    path.write_text(toml_config(tmp_path, bot_blocked=True, bot_sees_more=False))
    return path


@pytest.fixture
def served(config: Path, tmp_path: Path) -> Iterator[tuple[Served, str]]:
    port = free_port()
    server = Served(
        ["serve", "--config", str(config), "--port", str(port)],
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    try:
        server.wait_for_line("codemode is serving")
        yield server, f"http://127.0.0.1:{port}/mcp"
    finally:
        server.stop()


def edit(config: Path, change: Callable[[str], str]) -> None:
    config.write_text(change(config.read_text()))


def pid_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("one-*.pid"))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A child that ended but was not reaped yet is a zombie: gone for our purpose.
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not check():
        assert time.monotonic() < deadline, f"not within {READY_TIMEOUT_S} s: {what}"
        time.sleep(0.1)


def hang_up(server: Served, *wanted: str) -> str:
    """Send SIGHUP and return stderr up to the line that has all of `wanted` in what was
    read since (a reload's log may span lines: a refusal lists each problem on its own)."""
    server.process.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + READY_TIMEOUT_S
    seen = ""
    while time.monotonic() < deadline:
        try:
            seen += server.stderr.get(timeout=0.5)
        except queue.Empty:
            assert server.process.poll() is None, f"serve exited: {seen}"
            continue
        if all(w in seen for w in wanted):
            time.sleep(0.2)  # the rest of a multi-line record
            while not server.stderr.empty():
                seen += server.stderr.get_nowait()
            return seen
    raise AssertionError(f"no {wanted} in stderr after SIGHUP: {seen}")


async def status_of(url: str, key: str) -> int:
    headers = {
        "Authorization": f"Bearer {key}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    async with httpx2.AsyncClient() as http:
        return (await http.post(url, json=INITIALIZE, headers=headers)).status_code


@asynccontextmanager
async def connect(url: str, key: str) -> AsyncIterator[Client]:
    http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
    async with Client(streamable_http_client(url, http_client=http), mode="auto") as client:
        yield client


async def tool_names(url: str, key: str) -> set[str]:
    async with connect(url, key) as client:
        return {t.name for t in (await client.list_tools()).tools}


async def test_sighup_applies_policies_to_the_next_request(
    served: tuple[Served, str], config: Path, tmp_path: Path
) -> None:
    server, url = served
    assert await status_of(url, KEYS["bot"]) == 403
    assert await tool_names(url, KEYS["ci"]) == {"one_echo", "two_echo"}

    edit(config, lambda _: toml_config(tmp_path, bot_blocked=False, bot_sees_more=True))
    log = hang_up(server, "reloaded")
    assert "policies[members]" in log and "servers[two].policies" in log
    assert "needs a restart" not in log
    assert await status_of(url, KEYS["bot"]) == 200
    assert await tool_names(url, KEYS["bot"]) == {"one_echo", "two_echo"}

    # A broken file: every problem is logged, and the config that ran goes on running.
    edit(
        config,
        lambda text: text.replace('decision = "allow"', 'decision = "maybe"', 1).replace(
            'policies = ["members"]\napi', 'policies = ["nobody"]\napi'
        ),
    )
    log = hang_up(server, "refused", "'nobody'", "decision")
    assert "still serving the previous config" in log
    assert "portals[0].policies[0]: no policy with id 'nobody'" in log
    assert "policies[0].decision" in log
    assert await status_of(url, KEYS["bot"]) == 200
    assert await tool_names(url, KEYS["bot"]) == {"one_echo", "two_echo"}

    # A changed command reconnects that server live; a settings change needs a restart.
    edit(
        config,
        lambda _: (
            toml_config(tmp_path, bot_blocked=True, bot_sees_more=True, pid="b")
            + "access_token_ttl_s = 60\n"
        ),
    )
    log = hang_up(server, "needs a restart", "reloaded")
    assert "servers[one].args" in log
    assert "settings.access_token_ttl_s" in log
    assert await status_of(url, KEYS["bot"]) == 403
    first = int((tmp_path / "one-a.pid").read_text())
    wait_until(lambda: pid_files(tmp_path) == ["one-a.pid", "one-b.pid"], "one-b.pid written")
    wait_until(lambda: not alive(first), f"the first upstream (pid {first}) ended")
    for _ in range(100):  # bounded: `one` is Ready soon after its process starts
        if await tool_names(url, KEYS["ci"]) == {"one_echo", "two_echo"}:
            break
        await anyio.sleep(0.1)
    assert await tool_names(url, KEYS["ci"]) == {"one_echo", "two_echo"}

    # SIGHUP never stopped the server.
    assert server.process.poll() is None
