"""Faults that take a server down: HTTP errors or garbage on every request, a server that
stops answering, a crash mid-call, a notification flood. The status says why, the healthy
server keeps working, and the server comes back by itself (with backoff) once the fault ends."""

from __future__ import annotations

import math
import time

import anyio
import pytest

from engine import Gateway, Portal
from engine.status import ServerState
from engine.surfaces import Surface
from engine.upstream import RESYNC_MIN_GAP_S
from tests.faults.conftest import CALL_TIMEOUT_S, CONNECT_TIMEOUT_S, fault_config, faulty_argv
from tests.faults.support import (
    admin,
    healthy,
    last_call,
    ready,
    rss_bytes,
    run_catching,
    text,
    wait_state,
)
from tests.upstreams.harness import RunningServer, running

BOUND_S = CALL_TIMEOUT_S + 4

# mode: (part of the cause, status_code, is_upstream, retryable)
MODES = {
    "http401": ("HTTP 401", 401, True, False),
    "http500": ("HTTP 500", 500, True, True),
    "http503": ("HTTP 503", 503, True, True),
    "garbage": ("malformed JSON-RPC", None, True, False),
    "hang": ("connect_timeout_s", None, False, True),
}


def _figure(name: str, seconds: float) -> None:
    print(f"FIGURE {name}: {seconds:.2f} s")  # collected for the README with `pytest -s`


@pytest.mark.anyio
@pytest.mark.parametrize("mode", list(MODES))
async def test_server_down_is_reported_and_recovers(
    gateway: Gateway, faulty_server: RunningServer, mode: str
) -> None:
    portal = gateway.portal("main")
    await ready(portal, "faulty")
    says, status_code, is_upstream, retryable = MODES[mode]
    await admin(faulty_server.base, mode)
    started = time.perf_counter()
    try:
        await portal.sync("faulty")  # what a periodic sync or a reconnect would hit
        status = await wait_state(portal, "faulty", ServerState.ERROR)
        _figure(f"{mode}: sync to Error", time.perf_counter() - started)
        details = status.error_details
        assert details is not None
        assert says in details.cause
        assert details.status_code == status_code
        assert details.is_upstream is is_upstream
        assert details.retryable is retryable
        # The agent is told which server is down and why, not just "unknown tool".
        with anyio.fail_after(BOUND_S):
            result = await portal.call_tool(Surface.ALL, "faulty_ok", {})
        assert result.is_error and "faulty" in text(result) and says in text(result)
        assert ("retryable" in text(result)) is retryable
        caught = await run_catching(portal, "faulty_ok", {})
        assert caught["caught"], caught
        await healthy(portal)
    finally:
        await admin(faulty_server.base, "none")
    flipped = time.perf_counter()
    # No sync: the supervisor's backoff brings it back by itself.
    await wait_state(portal, "faulty", ServerState.READY)
    _figure(f"{mode}: fault end to Ready (backoff)", time.perf_counter() - flipped)
    ok = await portal.call_tool(Surface.ALL, "faulty_ok", {"text": "back"})
    assert text(ok) == "ok: back"


@pytest.mark.anyio
async def test_reconnects_with_backoff_not_a_tight_loop(
    gateway: Gateway, faulty_server: RunningServer
) -> None:
    portal = gateway.portal("main")
    await ready(portal, "faulty")
    before = await admin(faulty_server.base, "http503")
    try:
        await portal.sync("faulty")
        await wait_state(portal, "faulty", ServerState.ERROR)
        start = (await admin(faulty_server.base))["refused"]
        await anyio.sleep(4)
        attempts = (await admin(faulty_server.base))["refused"] - start
    finally:
        await admin(faulty_server.base, "none")
    print(f"FIGURE requests refused in 4 s of 503 (two servers on it): {attempts}")
    # Backoff 0.5, 1, 2 s... for `faulty` and `flooded`: a handful, not hundreds.
    assert 1 <= attempts <= 24, before
    await wait_state(portal, "faulty", ServerState.READY)
    await wait_state(portal, "flooded", ServerState.READY)


@pytest.mark.anyio
async def test_http_crash_mid_call_then_restart(
    gateway: Gateway, faulty_server: RunningServer
) -> None:
    portal = gateway.portal("main")
    await ready(portal, "faulty")
    started = time.perf_counter()
    with anyio.fail_after(BOUND_S):
        result = await portal.call_tool(Surface.ALL, "faulty_crash", {})
    assert result.is_error
    assert "upstream server 'faulty'" in text(result) and "retryable" in text(result)
    assert "Traceback" not in text(result)
    status = await wait_state(portal, "faulty", ServerState.ERROR)
    _figure("HTTP crash: call to Error", time.perf_counter() - started)
    assert status.error_details is not None and status.error_details.retryable
    row = await last_call(gateway, "faulty", "faulty_crash")
    assert row.status == "error"
    await healthy(portal)
    await anyio.to_thread.run_sync(faulty_server.start)  # same port, as after a restart
    restarted = time.perf_counter()
    await wait_state(portal, "faulty", ServerState.READY)
    _figure("HTTP crash: restart to Ready (backoff)", time.perf_counter() - restarted)
    ok = await portal.call_tool(Surface.ALL, "faulty_ok", {"text": "again"})
    assert text(ok) == "ok: again"
    await wait_state(portal, "flooded", ServerState.READY)


async def _listed(portal: Portal, server: str) -> int:
    """How many tools/list requests the server's process has answered so far."""
    return int(text(await portal.call_tool(Surface.ALL, f"{server}_listed", {})))


@pytest.mark.anyio
@pytest.mark.parametrize("server", ["flooded", "floodedio"])
async def test_notification_flood_starves_nobody_and_leaks_nothing(
    gateway: Gateway, server: str
) -> None:
    portal = gateway.portal("main")
    await ready(portal, server)
    await ready(portal, "faulty")
    count, floods, beside = 3000, 4, 5
    started = time.perf_counter()
    listed_before = await _listed(portal, server)
    rss: list[int] = []
    with anyio.fail_after(60):
        for _ in range(floods):
            async with anyio.create_task_group() as tg:

                async def flood() -> None:
                    result = await portal.call_tool(
                        Surface.ALL, f"{server}_flood", {"count": count}
                    )
                    assert text(result) == f"flooded {count}"

                tg.start_soon(flood)
                for _ in range(beside):  # other calls get through during the flood
                    await healthy(portal)
                    ok = await portal.call_tool(Surface.ALL, "faulty_ok", {"text": "x"})
                    assert text(ok) == "ok: x"
            rss.append(rss_bytes())
    listed = await _listed(portal, server) - listed_before
    elapsed = time.perf_counter() - started
    growth = rss[-1] - rss[0]
    print(
        f"FIGURE {server} flood: RSS {rss[0] >> 20} -> {rss[-1] >> 20} MiB,"
        f" {listed} re-lists in {elapsed:.1f} s"
    )
    assert growth < 64 << 20, rss  # after warm-up, three more floods: no unbounded growth
    # The rule: the first list_changed is fetched at once, then at least RESYNC_MIN_GAP_S
    # passes before the next re-sync, whatever arrived meanwhile. So the flooded connection
    # lists at most once per gap in the time measured, plus the first; one more for `faulty`,
    # which shares the HTTP process and no notice reaches. The counter also counts the SDK
    # server's own look-up of a tool's schema on each tools/call of a stateless HTTP request
    # (faulty_ok on the same process, and the closing `listed`). A slower machine takes longer
    # and may list more; one list per notice (about floods * count / 3 of them) stays far
    # beyond this bound, which is at most 60 / 0.2 + 2 + 21 = 323 within the fail_after.
    notices = floods * count // 3
    look_ups = (floods * beside if server == "flooded" else 0) + 1
    bound = math.floor(elapsed / RESYNC_MIN_GAP_S) + 2 + look_ups
    assert bound < notices // 4  # the bound still tells spaced re-syncs from one per notice
    assert 1 <= listed <= bound, (listed, bound, elapsed)
    assert portal.status()[server].state is ServerState.READY


@pytest.mark.anyio
@pytest.mark.parametrize("server", ["faulty", "faultyio"])
async def test_crash_fails_every_call_in_flight_at_once(
    gateway: Gateway, faulty_server: RunningServer, server: str
) -> None:
    """Calls pending when the process dies end with the crash, not with their own timeout."""
    portal = gateway.portal("main")
    await ready(portal, server)
    pending: list[str] = []

    async def hang() -> None:
        result = await portal.call_tool(Surface.ALL, f"{server}_hang", {})
        pending.append(text(result))

    with anyio.fail_after(BOUND_S):
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(hang)
            await anyio.sleep(0.2)  # the hangs are in flight
            crash = await portal.call_tool(Surface.ALL, f"{server}_crash", {})
            assert crash.is_error and "retryable" in text(crash)
    assert len(pending) == 3
    for message in pending:
        assert f"upstream server '{server}'" in message and "closed" in message, pending
        assert "got no answer" not in message, pending  # not left to run into the timeout
    if server == "faulty":
        await anyio.to_thread.run_sync(faulty_server.start)
    await wait_state(portal, server, ServerState.READY)  # a stdio server is started again
    await healthy(portal)


@pytest.mark.anyio
async def test_gateway_starts_with_upstreams_that_refuse_or_hang() -> None:
    """Startup is bounded by connect_timeout_s; the others are Ready; errors say why."""
    with (
        running(faulty_argv("--mode", "http401")) as refusing,
        running(faulty_argv("--mode", "hang")) as hanging,
    ):
        config = fault_config(refusing.url, hanging.url, stdio=False)
        started = time.perf_counter()
        with anyio.fail_after(CONNECT_TIMEOUT_S + 15):
            async with Gateway(config) as gw:
                _figure("gateway start with a hanging upstream", time.perf_counter() - started)
                status = gw.portal("main").status()
                assert status["time"].state is ServerState.READY
                refused = status["faulty"].error_details
                assert refused is not None and refused.status_code == 401
                assert not refused.retryable
                hung = status["faultyold"].error_details
                assert hung is not None and "connect_timeout_s" in hung.cause
                assert hung.retryable
                await healthy(gw.portal("main"))


@pytest.mark.anyio
async def test_a_server_that_stops_answering_is_found_by_its_calls(
    gateway: Gateway, faulty_server: RunningServer
) -> None:
    """No sync is due for hours; the call that times out is what reveals the dead server."""
    portal = gateway.portal("main")
    await ready(portal, "faulty")
    await admin(faulty_server.base, "hang")
    try:
        started = time.perf_counter()
        with anyio.fail_after(BOUND_S):
            result = await portal.call_tool(Surface.ALL, "faulty_ok", {})
        assert result.is_error and "got no answer" in text(result)
        status = await wait_state(portal, "faulty", ServerState.ERROR)
        _figure("server stops answering: first call to Error", time.perf_counter() - started)
        assert status.error_details is not None
        assert "connect_timeout_s" in status.error_details.cause
        assert status.error_details.retryable
        await healthy(portal)
    finally:
        await admin(faulty_server.base, "none")
    await wait_state(portal, "faulty", ServerState.READY)
    await wait_state(portal, "flooded", ServerState.READY)


@pytest.mark.anyio
async def test_credentials_refused_on_a_call_show_in_the_status(
    gateway: Gateway, faulty_server: RunningServer
) -> None:
    """A 401 is about the server, not the tool: the status says so until a reconnect works."""
    portal = gateway.portal("main")
    await ready(portal, "faulty")
    await admin(faulty_server.base, "http401")
    try:
        result = await portal.call_tool(Surface.ALL, "faulty_ok", {})
        assert result.is_error and "HTTP 401" in text(result)
        assert "retryable" not in text(result)
        status = await wait_state(portal, "faulty", ServerState.ERROR)
        details = status.error_details
        assert details is not None and details.status_code == 401 and not details.retryable
    finally:
        await admin(faulty_server.base, "none")
    await wait_state(portal, "faulty", ServerState.READY)
    await wait_state(portal, "flooded", ServerState.READY)
