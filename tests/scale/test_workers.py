"""`codemode serve --workers 2` on SQLite (WAL) and on PostgreSQL: one port, two processes,
each with its own upstream connections. A 2026-07-28-era client (no session) is answered by
both (the `codemode-worker` header names which); a token issued through one is accepted by
both, and its revocation, made through whichever worker got the request, is seen by both
within 1 s."""

from __future__ import annotations

import os
import queue
import signal
import socket
import time
from pathlib import Path

import anyio
import httpx2
import pytest

import tests.cli.test_serve as cli_serve
from tests.cli.conftest import codemode
from tests.identity_flow.devflow import connect_client
from tests.pg_cluster import PgCluster
from tests.scale.conftest import SECRET_ENV, SECRET_KEY, Statuses, client, portal_toml
from tests.upstreams.harness import free_port

pytestmark = pytest.mark.anyio

TRIES = 40  # fresh connections until both workers have answered
REVOCATION_BOUND_S = 1.0


def wait_for_lines(server: cli_serve.Served, prefixes: list[str]) -> None:
    """Until a line starting with each prefix was printed, in any order (workers race)."""
    missing = set(prefixes)
    deadline = time.monotonic() + cli_serve.READY_TIMEOUT_S
    while missing and time.monotonic() < deadline and server.process.poll() is None:
        try:
            line = server.stdout.get(timeout=0.5)
        except queue.Empty:
            continue
        missing = {p for p in missing if not line.startswith(p)}
    assert not missing, f"not printed: {missing}; exit {server.process.poll()}"


class WorkerHeaders(Statuses):
    """The worker named by each response."""

    def __init__(self) -> None:
        super().__init__()
        self.workers: list[str] = []

    async def record(self, response: httpx2.Response) -> None:
        await super().record(response)
        self.workers.append(response.headers.get("codemode-worker", "none"))


async def answered_by_both(url: str, token: str) -> WorkerHeaders:
    seen = WorkerHeaders()
    for _ in range(TRIES):
        async with client(url, token, seen) as c:  # a new HTTP client: a new connection
            result = await c.call_tool("time_get_current_time", {"timezone": "UTC"})
            assert not result.is_error, result.content
        if {"1", "2"} <= set(seen.workers):
            break
    return seen


async def refused_by_both(url: str, token: str) -> tuple[set[int], set[str]]:
    statuses: set[int] = set()
    workers: set[str] = set()
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for _ in range(TRIES):
        async with httpx2.AsyncClient(timeout=30) as http:
            response = await http.post(
                url,
                json=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/json, text/event-stream",
                },
            )
        statuses.add(response.status_code)
        workers.add(response.headers.get("codemode-worker", "none"))
        if {"1", "2"} <= workers:
            break
    return statuses, workers


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_two_workers_answer_and_both_see_a_revocation_within_1s(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    if backend == "sqlite":  # one file in WAL mode, shared by the two processes
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'codemode.db'}"
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        database_url = cluster.new_database()
    config = portal_toml(tmp_path, database_url)
    argv = ["serve", "--config", str(config), "--port", str(port), "--workers", "2"]
    server = cli_serve.Served(argv, env={**os.environ, SECRET_ENV: SECRET_KEY})
    try:
        wait_for_lines(server, ["portal team", "worker 2 is serving"])
        tokens = await connect_client(base, "ana@example.com")

        seen = await answered_by_both(f"{base}/mcp", tokens.access_token)
        assert {"1", "2"} <= set(seen.workers), seen.workers
        assert {status for status, _ in seen.seen} <= {200, 202}

        async with httpx2.AsyncClient(timeout=30) as http:
            revoked = await http.post(
                f"{base}/revoke",
                data={"token": tokens.access_token, "client_id": tokens.client_id},
            )
        assert revoked.status_code == 200, revoked.text
        revoked_at = time.monotonic()
        await anyio.sleep(REVOCATION_BOUND_S)
        statuses, workers = await refused_by_both(f"{base}/mcp", tokens.access_token)
        assert statuses == {401} and {"1", "2"} <= workers, (statuses, workers)
        assert time.monotonic() - revoked_at >= REVOCATION_BOUND_S

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0
        assert "Traceback" not in server.rest(stderr=True)
    finally:
        server.stop()


def test_workers_on_a_busy_port_or_port_0_are_one_clear_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        done = codemode("serve", "--workers", "2", "--port", str(port))
    assert (done.returncode, done.stderr.strip()) == (
        2,
        f"codemode: cannot listen on 127.0.0.1:{port}: Address already in use",
    )
    done = codemode("serve", "--workers", "2", "--port", "0")
    assert done.stderr.strip() == "codemode: --workers needs a fixed --port, not 0"
