"""`codemode serve` over HTTP on 127.0.0.1 and over stdio, driven by the SDK's own clients;
SIGTERM shuts the server down cleanly and no upstream process outlives it."""

from __future__ import annotations

import http.client
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp_types import TextContent

from tests.cli.conftest import REPO, alive, codemode, descendants
from tests.upstreams.harness import free_port

READY_TIMEOUT_S = 60.0
EXIT_TIMEOUT_S = 30.0

CODE = """
const [now, note] = await Promise.all([
  codemode.time_get_current_time({ timezone: "Europe/Paris" }),
  codemode.notes_add_note({ title: "From a client", body: "hello" }),
]);
return [now.timezone, note.id];
"""


def _lines(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)


class Served:
    """A `codemode serve` process; its output is read on threads so a test never blocks."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "engine.cli", *argv],
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr: queue.Queue[str] = queue.Queue()
        for stream, lines in (
            (self.process.stdout, self.stdout),
            (self.process.stderr, self.stderr),
        ):
            threading.Thread(target=_lines, args=(stream, lines), daemon=True).start()

    def wait_for_line(self, prefix: str, *, stderr: bool = False) -> str:
        lines = self.stderr if stderr else self.stdout
        deadline = time.monotonic() + READY_TIMEOUT_S
        seen: list[str] = []
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            seen.append(line)
            if line.startswith(prefix):
                return line.strip()
        raise AssertionError(f"no line starting {prefix!r} in {seen}; exit {self.process.poll()}")

    def rest(self, *, stderr: bool = False) -> str:
        """Everything not yet read from the stream; call after the process exited."""
        lines = self.stderr if stderr else self.stdout
        time.sleep(0.2)  # let the reader thread drain the closed pipe
        out: list[str] = []
        while not lines.empty():
            out.append(lines.get_nowait())
        return "".join(out)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=EXIT_TIMEOUT_S)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Served, int]]:
    port = free_port()
    server = Served(["serve", "--port", str(port)], env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        yield server, port
    finally:
        server.stop()


async def _use_http_portal(url: str, note_id: int) -> None:
    async with Client(url) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        assert {"time_get_current_time", "git_history", "notes_add_note"} <= names
    async with Client(f"{url}?codemode=search_and_execute") as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["code"]
        result = await client.call_tool("code", {"code": CODE})
        assert not result.is_error, result.content
        assert isinstance(result.content[0], TextContent)
        assert f'"result":["Europe/Paris",{note_id}]' in result.content[0].text.replace(" ", "")


def test_serve_answers_mcp_and_stops_cleanly_on_sigterm(
    served: tuple[Served, int], tmp_path: Path
) -> None:
    server, port = served
    line = server.wait_for_line("portal demo")
    url = f"http://127.0.0.1:{port}/mcp"
    assert line == f"portal demo (codemode demo): {url}"
    upstreams = descendants(server.process.pid)
    assert len(upstreams) >= 3  # time, git (with its repository) and notes

    anyio.run(_use_http_portal, url, 1)
    # The same portal by id; the notes server (one upstream process) remembers the first note.
    anyio.run(_use_http_portal, f"http://127.0.0.1:{port}/p/demo/mcp", 2)

    server.process.send_signal(signal.SIGTERM)
    assert server.process.wait(timeout=EXIT_TIMEOUT_S) == 0
    stderr = server.rest(stderr=True)
    assert "stopping: closing upstream connections ..." in stderr
    assert "Traceback" not in stderr
    assert [pid for pid in upstreams if alive(pid)] == []
    assert list(tmp_path.glob("codemode-demo-*")) == []


def test_ctrl_c_while_upstreams_connect_exits_130(
    served: tuple[Served, int], tmp_path: Path
) -> None:
    server, _ = served
    server.wait_for_line("connecting 3 upstream servers ...", stderr=True)
    server.process.send_signal(signal.SIGINT)
    assert server.process.wait(timeout=EXIT_TIMEOUT_S) == 130
    stderr = server.rest(stderr=True)
    assert stderr.strip().splitlines()[-1] == "codemode: interrupted"
    assert "Traceback" not in stderr
    assert [pid for pid in descendants(server.process.pid) if alive(pid)] == []


def test_serve_on_a_busy_port_is_one_clear_error() -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        done = codemode("serve", "--port", str(port))
    assert done.returncode == 2
    assert done.stderr.startswith(f"codemode: cannot listen on 127.0.0.1:{port}: ")
    assert "connecting" not in done.stderr


async def _use_stdio_portal(params: StdioServerParameters) -> None:
    async with Client(params) as client:
        assert [t.name for t in (await client.list_tools()).tools] == ["code"]
        result = await client.call_tool("code", {"code": CODE})
        assert not result.is_error, result.content
        assert isinstance(result.content[0], TextContent)
        assert '"result":["Europe/Paris",1]' in result.content[0].text.replace(" ", "")
        prompts = await client.list_prompts()
        assert [p.name for p in prompts.prompts] == ["notes_summarize_notes"]


def test_serve_stdio_with_the_sdk_stdio_client(tmp_path: Path) -> None:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "engine.cli", "serve", "--stdio", "--surface", "codemode"],
        cwd=REPO,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    anyio.run(_use_stdio_portal, params)
    # The git server's repository goes when the gateway closes it, after stdin closed.
    deadline = time.monotonic() + EXIT_TIMEOUT_S
    while list(tmp_path.glob("codemode-demo-*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(tmp_path.glob("codemode-demo-*")) == []


def test_serve_needs_a_portal_to_serve(tmp_path: Path) -> None:
    none = tmp_path / "none.toml"
    none.write_text('[settings]\nrequest_log_path = ":memory:"\n', encoding="utf-8")
    done = codemode("serve", "--config", str(none), "--port", str(free_port()))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "codemode: the config has no [[portals]]; add one to serve its servers"
    )

    two = tmp_path / "two.toml"
    two.write_text('[[portals]]\nid = "a"\n[[portals]]\nid = "b"\n', encoding="utf-8")
    done = codemode("serve", "--config", str(two), "--stdio")
    assert done.returncode == 2
    assert done.stderr.strip() == "codemode: the config has 2 portals (a, b); choose with --portal"


def test_public_host_is_accepted_and_other_hosts_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "solo.toml"
    config.write_text(
        '[[portals]]\nid = "solo"\n[settings]\nrequest_log_path = ":memory:"\n', encoding="utf-8"
    )
    port = free_port()
    argv = ["serve", "--config", str(config), "--port", str(port), "--public-host", "mcp.test"]
    server = Served(argv, env=dict(os.environ))
    try:
        server.wait_for_line("portal solo")
        init = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "cli-test", "version": "0"},
            },
        }
        headers = {"Accept": "application/json, text/event-stream"}
        url = f"http://127.0.0.1:{port}/mcp"
        refused = httpx2.post(url, json=init, headers={**headers, "Host": f"evil.test:{port}"})
        accepted = httpx2.post(url, json=init, headers={**headers, "Host": f"mcp.test:{port}"})
        assert refused.status_code == 421  # Misdirected Request: DNS-rebinding protection
        assert accepted.status_code == 200, accepted.text
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=EXIT_TIMEOUT_S) == 0
    finally:
        server.stop()


def test_an_idle_connection_outlives_uvicorns_default_keep_alive(
    served: tuple[Served, int],
) -> None:
    """A balancer reuses its idle connections to a replica: the portal must not close them
    first (uvicorn's default is 5 s; a request sent as it closes gets no answer)."""
    server, port = served
    server.wait_for_line("portal demo")
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/healthz")
        assert conn.getresponse().read() == b'{"status":"ok"}'
        assert conn.sock is not None
        local = conn.sock.getsockname()
        time.sleep(6.5)  # past uvicorn's default keep-alive of 5 s
        conn.request("GET", "/healthz")  # on the same socket: it fails if the portal closed it
        assert conn.getresponse().read() == b'{"status":"ok"}'
        assert conn.sock is not None and conn.sock.getsockname() == local
    finally:
        conn.close()
