"""Graceful drain of `codemode serve` on SIGTERM: `/readyz` turns 503 ("draining") at once
while `/healthz` stays 200 and new requests are still served for the `--drain` period (a load
balancer moves traffic meanwhile); a call in flight when the signal came finishes; the
process exits 0. Both health checks answer any Host (a balancer names the replica by its
address) and reveal nothing but their few words."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp.client.client import Client

import tests.cli.test_serve as cli_serve
from tests.upstreams.harness import RunningServer, demo_argv, free_port, running

pytestmark = pytest.mark.anyio

DRAIN_S = 8.0
SLOW_S = 3.0
POLL_TRIES = 200  # x 0.05 s


def config(directory: Path, demo_url: str) -> Path:
    path = directory / "portal.toml"
    path.write_text(
        f'[[servers]]\nid = "demo"\nurl = {json.dumps(demo_url)}\n'
        '[[portals]]\nid = "solo"\n[[portals.servers]]\nserver_id = "demo"\n'
        '[settings]\nrequest_log_path = ":memory:"\n',
        encoding="utf-8",
    )
    return path


async def slow_started(demo: RunningServer) -> int:
    async with Client(demo.url) as upstream:
        result = await upstream.call_tool("stats", {})
    text = "".join(getattr(c, "text", "") for c in result.content)
    return int(json.loads(text).get("slow_started", 0))


async def test_sigterm_drains_readiness_first_and_lets_runs_finish(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with running(demo_argv()) as demo:
        argv = ["serve", "--config", str(config(tmp_path, demo.url)), "--port", str(port)]
        server = cli_serve.Served([*argv, "--drain", str(DRAIN_S)], env=dict(os.environ))
        try:
            server.wait_for_line("portal solo")
            async with httpx2.AsyncClient(timeout=30) as http:
                # A balancer's probe names the replica by address, not by a portal host.
                foreign = {"Host": f"10.1.2.3:{port}"}
                ready = await http.get(f"{base}/readyz", headers=foreign)
                assert (ready.status_code, ready.json()) == (200, {"ready": True})
                live = await http.get(f"{base}/healthz", headers=foreign)
                assert (live.status_code, live.json()) == (200, {"status": "ok"})

                results: list[bool] = []
                async with Client(f"{base}/mcp") as client, anyio.create_task_group() as tasks:

                    async def in_flight() -> None:
                        result = await client.call_tool("demo_slow", {"seconds": SLOW_S})
                        results.append(not result.is_error)

                    tasks.start_soon(in_flight)
                    for _ in range(POLL_TRIES):
                        if await slow_started(demo) == 1:
                            break
                        await anyio.sleep(0.05)
                    server.process.send_signal(signal.SIGTERM)
                    signalled = time.monotonic()

                    for _ in range(POLL_TRIES):
                        ready = await http.get(f"{base}/readyz")
                        if ready.status_code == 503:
                            break
                        await anyio.sleep(0.05)
                    assert ready.json() == {"ready": False, "reason": "draining"}
                    assert (await http.get(f"{base}/healthz")).status_code == 200
                    # Still serving new requests while the balancer notices.
                    async with Client(f"{base}/mcp") as late:
                        names = {t.name for t in (await late.list_tools()).tools}
                    assert "demo_slow" in names
                    assert time.monotonic() - signalled < DRAIN_S, "drained before the check"
                assert results == [True]
        finally:
            exit_code = server.process.wait(timeout=DRAIN_S + 30)
            server.stop()
    assert exit_code == 0
    assert "Traceback" not in server.rest(stderr=True)
