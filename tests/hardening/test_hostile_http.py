"""The hostile corpus (tests/sandbox/hostile.py) through the real HTTP `code` tool, all snippets
in one MCP session, on a portal that holds a bearer secret for its demo upstream.

The snippets' targets are redirected to canaries: `codemode.echo` to the demo upstream's real
`demo_echo`, `/etc/passwd` to a file of our own whose content must never come back, and
`127.0.0.1:1` to a listening socket that must never see a connection. None may leak the
secret, reach the file or the network, change what the next run sees, end in an internal
error, or take the server down; each run leaves one row in the request log.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from engine.surfaces import CODE
from tests.hardening.conftest import (
    DEMO_TOKEN,
    DEMO_TOKEN_ENV,
    assert_still_serving,
    connect,
    text_of,
)
from tests.sandbox.hostile import HOSTILE
from tests.server.conftest import ServedPortal

pytestmark = pytest.mark.anyio

# Per run: the sandbox's own limits (3 s wall, 1 s CPU) end every snippet well before this.
RUN_BOUND_S = 30.0
CLEAN_SLATE = "return typeof globalThis.__settle + typeof Object.prototype.then"


@dataclass
class Canaries:
    file: Path
    file_text: str
    port: int
    connections: list[tuple[str, int]] = field(default_factory=list)

    def aim(self, code: str) -> str:
        """The snippet with its targets replaced by ours."""
        return (
            code.replace("codemode.echo", "codemode.demo_echo")
            .replace("/etc/passwd", str(self.file))
            .replace("127.0.0.1:1", f"127.0.0.1:{self.port}")
        )


@pytest.fixture(scope="module")
def canaries(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Canaries]:
    folder = tmp_path_factory.mktemp("canary")
    text = "CANARY-FILE-" + uuid.uuid4().hex
    path = folder / "passwd"
    path.write_text(text, encoding="utf-8")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    found = Canaries(path, text, listener.getsockname()[1])
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, peer = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            found.connections.append(peer)
            conn.close()

    thread = threading.Thread(target=accept, name="canary-listener", daemon=True)
    thread.start()
    # The listener must notice a connection, or its silence would prove nothing.
    socket.create_connection(("127.0.0.1", found.port), timeout=5).close()
    for _ in range(100):
        if found.connections:
            break
        stop.wait(0.05)
    assert found.connections, "the canary listener missed its own test connection"
    found.connections.clear()
    try:
        yield found
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


@dataclass(frozen=True)
class Outcome:
    name: str
    is_error: bool
    payload: dict[str, Any] | None
    text: str
    clean_slate: Any


@pytest.fixture(scope="module")
async def outcomes(served: ServedPortal, canaries: Canaries) -> AsyncIterator[dict[str, Outcome]]:
    """Every snippet, then a clean-slate probe, in one session on the code-mode surface."""
    assert served.gateway is not None
    gateway = served.gateway
    gateway.request_log.flush()
    before = await anyio.to_thread.run_sync(lambda: _code_runs(served))
    results: dict[str, Outcome] = {}
    async with connect(served.url + "?codemode=search_and_execute") as client:
        for name, code in HOSTILE:
            with anyio.fail_after(RUN_BOUND_S):
                result = await client.call_tool(CODE, {"code": canaries.aim(code)})
                probe = await client.call_tool(CODE, {"code": CLEAN_SLATE})
            text = text_of(result)
            try:
                payload = json.loads(text)
            except ValueError:
                payload = None  # output over the cap: cut text with a notice
            probe_payload = json.loads(text_of(probe))
            results[name] = Outcome(
                name, bool(result.is_error), payload, text, probe_payload.get("result")
            )
    gateway.request_log.flush()
    after = await anyio.to_thread.run_sync(lambda: _code_runs(served))
    results["(request log)"] = Outcome("(request log)", False, None, "", after - before)
    yield results


def _code_runs(served: ServedPortal) -> int:
    assert served.gateway is not None
    rows = served.gateway.request_log.query(portal="main", limit=100_000)
    return sum(1 for r in rows if r.kind == "code_run")


NAMES = [name for name, _ in HOSTILE]


def test_the_corpus_is_large_enough() -> None:
    assert len(HOSTILE) >= 50


@pytest.mark.parametrize("name", NAMES)
async def test_no_snippet_leaks_or_reaches_out(
    outcomes: dict[str, Outcome], canaries: Canaries, name: str
) -> None:
    outcome = outcomes[name]
    assert DEMO_TOKEN not in outcome.text
    assert DEMO_TOKEN_ENV not in outcome.text  # not even where the secret lives
    assert canaries.file_text not in outcome.text
    if outcome.payload is not None:
        if outcome.is_error:
            error = outcome.payload["error"]
            assert error["kind"] != "internal", error
            assert error["message"], error
        else:
            assert "result" in outcome.payload, outcome.payload
    else:
        assert outcome.text.startswith("[output cut: "), outcome.text[:200]


@pytest.mark.parametrize("name", NAMES)
async def test_no_snippet_changes_the_next_run(outcomes: dict[str, Outcome], name: str) -> None:
    assert outcomes[name].clean_slate == "undefinedundefined"


async def test_nothing_reached_the_network_or_the_file(
    outcomes: dict[str, Outcome], canaries: Canaries
) -> None:
    assert len([o for o in outcomes.values() if o.name in NAMES]) == len(HOSTILE)
    assert canaries.connections == []
    assert canaries.file.read_text(encoding="utf-8") == canaries.file_text
    assert [p.name for p in canaries.file.parent.iterdir()] == ["passwd"]


async def test_every_run_is_in_the_request_log(outcomes: dict[str, Outcome]) -> None:
    # Each snippet and each clean-slate probe is one code run.
    assert outcomes["(request log)"].clean_slate == 2 * len(HOSTILE)


async def test_the_server_and_its_upstreams_survive(
    outcomes: dict[str, Outcome], served: ServedPortal
) -> None:
    await assert_still_serving(served.url)
    assert served.gateway is not None
    states = {sid: s.state for sid, s in served.gateway.catalog.status().items()}
    assert states == {"time": "Ready", "demo": "Ready"}
