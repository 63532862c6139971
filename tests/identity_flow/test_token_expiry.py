"""A portal token that expires while its request is open (`StreamGuard`): a `tools/call`
admitted with the valid token runs to its answer, and is made once; the same token's standing
stream (a 2025-era GET stream) is ended, as the client opens it again with a fresh token.
`codemode serve` with `[identity] provider = "dev"`, 2 s access tokens and a SQLite store; the
upstream (`tests.upstreams.counting`) holds the call at its gate past the token's expiry."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest

import tests.cli.test_serve as cli_serve
from benchmarks import loadgen
from engine.server.stream_guard import CHECK_S
from tests.identity_flow.dev_portal import dev_portal_toml
from tests.identity_flow.devflow import connect_client
from tests.scale.test_replica_kill import counting_argv, set_gate, upstream_state
from tests.scale.test_revocation import standing_stream
from tests.upstreams.harness import RunningServer, free_port, running

pytestmark = pytest.mark.anyio

TTL_S = 2
BOUND_S = 30.0  # liveness only


@pytest.fixture
def upstream() -> Iterator[RunningServer]:
    with running(counting_argv()) as server:
        yield server


async def wait_until_held(upstream: RunningServer) -> None:
    while not (await upstream_state(upstream))["held"]:  # noqa: ASYNC110 (another process)
        await anyio.sleep(0.05)


def config(directory: Path, upstream: str) -> Path:
    return dev_portal_toml(
        directory,
        {"counter": {"url": upstream}},
        database_url=f"sqlite+aiosqlite:///{directory / 'codemode.db'}",
        settings={"access_token_ttl_s": TTL_S},
    )


async def test_a_call_outlives_its_tokens_expiry_and_a_standing_stream_does_not(
    tmp_path: Path, upstream: RunningServer
) -> None:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    served = cli_serve.Served(
        ["serve", "--config", str(config(tmp_path, upstream.url)), "--port", str(port)],
        env=dict(os.environ),
    )
    try:
        served.wait_for_line("portal team")
        tokens = await connect_client(origin, "ana@example.com")
        await set_gate(upstream, open_=False)
        outcome: list[str] = []
        stream_opened, stream_ended = anyio.Event(), anyio.Event()

        async def held_call() -> None:
            # Raw HTTP: an SDK client lists tools after a call, and with this fixed token
            # that later request is refused as it should be, which is not what is tested.
            headers = loadgen.headers("counter_count")
            headers["authorization"] = f"Bearer {tokens.access_token}"
            body = loadgen.call_body("counter_count", {"key": "held"}, 1)
            async with httpx2.AsyncClient(timeout=httpx2.Timeout(BOUND_S)) as http:
                answer = await http.post(f"{origin}/mcp", content=body, headers=headers)
            content_type = answer.headers.get("content-type", "")
            outcome.append(
                loadgen.problem(answer.status_code, content_type, answer.content) or "answered"
            )

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(held_call)
            tasks.start_soon(
                standing_stream, f"{origin}/mcp", tokens.access_token, stream_opened, stream_ended
            )
            with anyio.fail_after(BOUND_S):
                await stream_opened.wait()
                await wait_until_held(upstream)
                # The guard acts on the expiry: the standing stream ends ...
                await stream_ended.wait()
            await anyio.sleep(2 * CHECK_S)  # ... and has had two more checks for the call
            assert outcome == [], outcome
            await set_gate(upstream, open_=True)
        assert outcome == ["answered"], outcome
        assert (await upstream_state(upstream))["counts"] == {"held": 1}
    finally:
        await set_gate(upstream, open_=True)
        served.stop()
