"""Helpers for fault tests: bounded waits on status, the request log, and code-mode catches."""

from __future__ import annotations

import json
import os
from typing import Any

import anyio
import httpx2
from mcp_types import CallToolResult, TextContent

from engine import Gateway, Portal
from engine.requestlog import RequestRecord
from engine.status import ServerState, ServerStatus
from engine.surfaces import Surface

WAIT_S = 15.0
"""Slack of every wait for a state, on top of the server's connect_timeout_s (a reconnect is a
backoff wait and an attempt bounded by it): generous, the figures go in the report instead."""


def text(result: CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, TextContent))


async def wait_state(portal: Portal, server_id: str, state: ServerState) -> ServerStatus:
    """Poll until the server is in `state`; fail after its connect timeout and WAIT_S, with
    the last status seen."""
    (config,) = (s for s in portal.services.config.servers if s.id == server_id)
    status = portal.status()[server_id]
    with anyio.move_on_after(config.connect_timeout_s + WAIT_S):
        while status.state is not state:
            await anyio.sleep(0.02)
            status = portal.status()[server_id]
    assert status.state is state, f"{server_id} never became {state.value}: {status}"
    return status


async def ready(portal: Portal, server_id: str) -> None:
    """Bring the server back to Ready (an on-demand sync cuts any backoff short)."""
    if portal.status()[server_id].state is not ServerState.READY:
        await portal.sync(server_id)
    await wait_state(portal, server_id, ServerState.READY)


async def healthy(portal: Portal) -> None:
    """The control server answers normally."""
    result = await portal.call_tool(Surface.ALL, "time_get_current_time", {"timezone": "UTC"})
    assert not result.is_error, text(result)
    assert "UTC" in text(result)


async def last_call(gateway: Gateway, server_id: str, capability: str) -> RequestRecord:
    rows = await anyio.to_thread.run_sync(
        lambda: gateway.request_log.query(server=server_id, limit=50)
    )
    for row in rows:
        if row.capability == capability:
            return row
    raise AssertionError(f"no request log row for {capability} on {server_id}: {rows}")


def catching(js_name: str, args: dict[str, Any]) -> str:
    """Code that calls one tool and returns what it caught, as the agent would."""
    return (
        f"try {{ const r = await codemode.{js_name}({json.dumps(args)});"
        " return {caught: false, r}; }"
        " catch (e) { return {caught: true, name: e.name, message: String(e.message),"
        " retryable: e.retryable, code: e.code, isError: e instanceof Error}; }"
    )


async def run_catching(portal: Portal, js_name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await portal.call_tool(Surface.CODEMODE, "code", {"code": catching(js_name, args)})
    assert not result.is_error, text(result)
    payload = json.loads(text(result))
    caught: dict[str, Any] = payload["result"]
    return caught


async def admin(base: str, mode: str | None = None) -> dict[str, Any]:
    """Read (or set) the faulty server's global fault mode and counters."""
    async with httpx2.AsyncClient(timeout=5) as http:
        if mode is None:
            response = await http.get(f"{base}/admin/mode")
        else:
            response = await http.post(f"{base}/admin/mode", json={"mode": mode})
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer


def rss_bytes() -> int:
    """This process's resident set size (Linux)."""
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")
