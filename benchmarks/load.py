"""Load: many MCP clients on every surface at once, some of them hostile, against one portal.

    python -m benchmarks.load [--seconds 60] [--clients 50] [--hostile 4]

Starts the demo upstream (tests/upstreams/demo.py over streamable HTTP, bearer auth) and a
portal in front of it and of mcp-server-time (stdio): `codemode serve`, its own process, with
its request log in a temporary SQLite file. Then, each phase with fresh sessions:

1. warm-up: every client, a few seconds (thread pools and caches reach their working size);
2. baseline: the well-behaved clients alone;
3. runaways: the well-behaved clients plus two clients running infinite loops one after
   another (p95 against the baseline: a runaway must not slow the others by more than 2x);
4. load: the well-behaved clients plus hostile ones (infinite loops, memory bombs) for the
   full duration.

Well-behaved clients mix every surface: tools/list, direct calls (ALL and minimize_tools),
`query`, `execute` with one upstream call and `code` with 1-3; a fifth of them speak the
2025-era protocol (initialize handshake, `Mcp-Session-Id`). The portal process's RSS, threads
and open fds are read from /proc after the warm-up and after the load. Finally a SIGTERM
stops the portal and the request log, reopened from disk, is counted against what the clients
did; a second portal is stopped by SIGTERM while code runs call the demo's `slow` tool, to
show they drain. Writes benchmarks/results/load.md.

The driver (`serve`, `drive`, `drain`) is shared with the tests in tests/load/.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from benchmarks.latency import list_all_tools
from benchmarks.sandbox import machine
from tests.upstreams.harness import RunningServer, demo_argv, running

RESULTS = Path(__file__).parent / "results"
TOKEN_ENV = "CODEMODE_LOAD_DEMO_TOKEN"
PORTAL = "load"
START_TIMEOUT_S = 60.0
OP_TIMEOUT_S = 60.0
"""No single request may take longer than this: a hung request is an error, not a stall."""
MAX_OPS_PER_CLIENT = 100_000
LEGACY_EVERY = 5
"""Every fifth well-behaved client speaks the 2025-era protocol (sessions)."""

RUNAWAYS = 2
"""Clients that run an infinite loop after another in the runaway phase."""
CPU_S = 1.0
"""The sandbox's CPU budget in these runs: a runaway loop is stopped after this much."""

LOOP = "while (true) {}"
BOMB = "const a = []; while (true) a.push(new Array(1e6).fill(1.5));"
HOSTILE_KINDS = {LOOP: {"cpu", "timeout"}, BOMB: {"memory"}}


class Surface(enum.StrEnum):
    ALL = ""
    MINIMIZE = "?optimize_context=minimize_tools"
    SEARCH = "?optimize_context=search_and_execute"
    CODE = "?codemode=search_and_execute"


def config_toml(upstream_url: str, log_path: Path, time_server: str) -> str:
    return f"""\
[[servers]]
id = "demo"
url = "{upstream_url}"
auth_type = "bearer"
bearer_token_env = "{TOKEN_ENV}"

[[servers]]
id = "time"
command = "{time_server}"

[settings]
request_log_path = "{log_path}"

[settings.sandbox]
cpu_s = {CPU_S}
timeout_s = 20

[[portals]]
id = "{PORTAL}"
name = "Load test portal"

[[portals.servers]]
server_id = "demo"

[[portals.servers]]
server_id = "time"
"""


# -- the portal process ---------------------------------------------------------------------


@dataclass
class Portal:
    server: RunningServer
    log_path: Path
    upstream: RunningServer
    token: str
    """The demo upstream's bearer token, to read its counters directly."""

    @property
    def pid(self) -> int:
        assert self.server.process is not None
        return self.server.process.pid

    def url(self, surface: Surface) -> str:
        return f"{self.server.base}/mcp{surface.value}"

    def terminate(self, timeout_s: float) -> int:
        """SIGTERM to the portal process alone (not its group), as a supervisor sends it;
        wait for it to exit and return its exit code."""
        process = self.server.process
        assert process is not None
        os.kill(process.pid, signal.SIGTERM)
        return process.wait(timeout=timeout_s)


@contextmanager
def serve(tmp: Path, *, grace_s: float | None = None) -> Iterator[Portal]:
    """The demo upstream and `codemode serve` in front of it (and mcp-server-time)."""
    token = "load-" + uuid.uuid4().hex
    time_server = Path(sys.executable).parent / "mcp-server-time"
    with running(demo_argv(), env={"DEMO_TOKEN": token}) as upstream:
        tmp.mkdir(parents=True, exist_ok=True)
        config = tmp / "portal.toml"
        log_path = tmp / "requests.sqlite3"
        config.write_text(config_toml(upstream.url, log_path, str(time_server)), "utf-8")
        argv = [sys.executable, "-m", "engine.cli", "serve", "--config", str(config)]
        argv += ["--port", "{port}"]
        if grace_s is not None:
            argv += ["--grace", str(grace_s)]
        with running(argv, env={TOKEN_ENV: token}) as server:
            yield Portal(server, log_path, upstream, token)


@asynccontextmanager
async def connect(url: str, *, legacy: bool = False) -> AsyncIterator[Client]:
    timeout = httpx2.Timeout(OP_TIMEOUT_S, read=None)
    async with (
        httpx2.AsyncClient(timeout=timeout) as http,
        Client(
            streamable_http_client(url, http_client=http), mode="legacy" if legacy else "auto"
        ) as client,
    ):
        yield client


async def wait_ready(portal: Portal) -> None:
    """The portal listens before its upstreams are connected: wait for both servers' tools."""
    deadline = time.monotonic() + START_TIMEOUT_S
    wanted = {"demo_echo", "time_get_current_time"}
    while time.monotonic() < deadline:
        try:
            async with connect(portal.url(Surface.ALL)) as client:
                if wanted <= {t.name for t in (await client.list_tools()).tools}:
                    return
        except Exception:  # not serving yet
            pass
        await anyio.sleep(0.2)
    raise TimeoutError(f"the portal did not list {sorted(wanted)} within {START_TIMEOUT_S} s")


@dataclass(frozen=True)
class ProcStats:
    rss_mb: float
    threads: int
    fds: int


def proc_stats(pid: int) -> ProcStats:
    """Resident memory, thread count and open file descriptors of a process, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.split()
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return ProcStats(int(fields["VmRSS"][0]) / 1024, int(fields["Threads"][0]), fds)


# -- the clients ----------------------------------------------------------------------------


@dataclass
class Tally:
    """What the clients did and saw; `tool_calls` and `code_runs` are what the request log
    must hold afterwards."""

    ops: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    """Well-behaved requests only."""
    errors: list[str] = field(default_factory=list)
    """Failures of well-behaved requests (must stay empty)."""
    hostile_kinds: Counter[str] = field(default_factory=Counter)
    hostile_unexpected: list[str] = field(default_factory=list)
    """Hostile runs that did not end in the typed error they should have."""
    tool_calls: int = 0
    code_runs: int = 0
    answered_tool_calls: int = 0
    answered_code_runs: int = 0
    """Of those, the ones whose request got a successful answer."""
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return len(self.latencies_ms)

    @property
    def runs(self) -> int:
        return self.ops["execute"] + self.ops["code"]

    def p95(self) -> float:
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[94]

    def merge(self, other: Tally) -> None:
        self.ops.update(other.ops)
        self.latencies_ms += other.latencies_ms
        self.errors += other.errors
        self.hostile_kinds.update(other.hostile_kinds)
        self.hostile_unexpected += other.hostile_unexpected
        self.tool_calls += other.tool_calls
        self.code_runs += other.code_runs
        self.answered_tool_calls += other.answered_tool_calls
        self.answered_code_runs += other.answered_code_runs


def code_with_calls(n: int, seed: int) -> str:
    """`code` making `n` (1-3) upstream calls, two of them concurrently."""
    calls = [
        f"codemode.demo_echo({{ value: {seed} }})",
        'codemode.time_get_current_time({ timezone: "UTC" })',
        f'codemode.demo_echo({{ value: "x{seed}" }})',
    ][:n]
    return f"const out = await Promise.all([{', '.join(calls)}]);\nreturn out.length;"


Op = tuple[str, str, dict[str, Any], int, bool]
"""(label, tool, arguments, upstream calls it makes, is a code run)."""


def plan(surface: Surface, i: int) -> Op | None:
    """The `i`th request of a well-behaved client on `surface` (None: tools/list)."""
    if surface is Surface.ALL:
        return [
            None,
            ("direct", "demo_echo", {"value": i}, 1, False),
            ("direct", "time_get_current_time", {"timezone": "UTC"}, 1, False),
        ][i % 3]
    if surface is Surface.MINIMIZE:
        return [
            ("query", "query", {"query": "echo"}, 0, False),
            ("direct", "demo_echo", {}, 1, False),
        ][i % 2]
    if surface is Surface.SEARCH:
        code = "return await codemode.demo_echo({ value: 1 });"
        return [
            ("query", "query", {"query": "current time"}, 0, False),
            ("execute", "execute", {"code": code}, 1, True),
        ][i % 2]
    n = 1 + i % 3
    return ("code", "code", {"code": code_with_calls(n, i)}, n, True)


async def good_client(portal: Portal, index: int, tally: Tally, gate: _Gate) -> None:
    surface = list(Surface)[index % len(Surface)]
    legacy = index % LEGACY_EVERY == LEGACY_EVERY - 1
    async with gate.session(tally.errors), connect(portal.url(surface), legacy=legacy) as c:
        await c.list_tools()  # the SDK validates results against the listed schemas
        await gate.enter()
        for i in range(MAX_OPS_PER_CLIENT):
            if gate.over():
                return
            await _good_request(c, plan(surface, i + index), tally)


async def _good_request(client: Client, op: Op | None, tally: Tally) -> None:
    label = "tools/list" if op is None else op[0]
    started = time.perf_counter()
    try:
        with anyio.fail_after(OP_TIMEOUT_S):
            if op is None:
                await client.list_tools()
            else:
                _, tool, arguments, calls, is_run = op
                # Counted before the answer: an upstream call is logged even if it fails.
                tally.tool_calls += calls
                tally.code_runs += is_run
                result = await client.call_tool(tool, arguments)
                if result.is_error:
                    tally.errors.append(f"{label} {tool}: {_text(result)[:300]}")
                else:
                    tally.answered_tool_calls += calls
                    tally.answered_code_runs += is_run
    except Exception as exc:
        tally.errors.append(f"{label}: {describe(exc)}")
    tally.latencies_ms.append((time.perf_counter() - started) * 1000)
    tally.ops[label] += 1


async def hostile_client(
    portal: Portal, index: int, tally: Tally, gate: _Gate, codes: Sequence[str]
) -> None:
    """Runs an infinite loop or a memory bomb, again and again; each must end in its error."""
    async with gate.session(tally.hostile_unexpected), connect(portal.url(Surface.CODE)) as client:
        await client.list_tools()
        await gate.enter()
        for i in range(MAX_OPS_PER_CLIENT):
            if gate.over():
                return
            code = codes[(index + i) % len(codes)]
            tally.code_runs += 1
            tally.ops["hostile"] += 1
            try:
                with anyio.fail_after(OP_TIMEOUT_S):
                    result = await client.call_tool("code", {"code": code})
            except Exception as exc:
                tally.hostile_unexpected.append(describe(exc))
                continue
            kind = error_kind(result)
            tally.hostile_kinds[kind or "none"] += 1
            if not result.is_error or kind not in HOSTILE_KINDS[code]:
                tally.hostile_unexpected.append(f"{code!r} -> {_text(result)[:300]}")


def error_kind(result: CallToolResult) -> str | None:
    payload = result.structured_content or {}
    error = payload.get("error")
    kind = error.get("kind") if isinstance(error, dict) else None
    return kind if isinstance(kind, str) else None


def _text(result: CallToolResult) -> str:
    return " ".join(getattr(block, "text", "") for block in result.content)


@dataclass
class _Gate:
    """Clients connect, then wait for the gate; the clock starts once all are in."""

    expected: int
    start: anyio.Event = field(default_factory=anyio.Event)
    all_in: anyio.Event = field(default_factory=anyio.Event)
    connected: int = 0
    deadline: float = float("inf")
    stop: anyio.Event | None = None
    """Ends the clients before the deadline when set."""

    async def enter(self) -> None:
        self._arrive()
        await self.start.wait()

    def _arrive(self) -> None:
        self.connected += 1
        if self.connected == self.expected:
            self.all_in.set()

    @asynccontextmanager
    async def session(self, errors: list[str]) -> AsyncIterator[None]:
        """A client's session: failing to open or close it is one more error, and a client
        that never got in still counts as arrived, so the others do not wait for it."""
        entered = self.connected
        try:
            yield
        except Exception as exc:
            errors.append(f"session: {describe(exc)}")
            if not self.start.is_set() and self.connected == entered:
                self._arrive()

    def open(self, seconds: float) -> float:
        now = time.monotonic()
        self.deadline = now + seconds
        self.start.set()
        return now

    def over(self) -> bool:
        return time.monotonic() >= self.deadline or (self.stop is not None and self.stop.is_set())


async def drive(
    portal: Portal,
    *,
    good: int,
    hostile: int,
    seconds: float,
    hostile_codes: Sequence[str] = (LOOP, BOMB),
    stop: anyio.Event | None = None,
    tally: Tally | None = None,
) -> Tally:
    """`good` + `hostile` clients, each with its own session, for `seconds` once all are
    connected; hostile clients run `hostile_codes` in turn. Every loop is bounded by count
    and by the deadline."""
    tally = tally if tally is not None else Tally()
    gate = _Gate(good + hostile, stop=stop)
    begun = time.monotonic()
    async with anyio.create_task_group() as tasks:
        for index in range(good):
            tasks.start_soon(good_client, portal, index, tally, gate)
        for index in range(hostile):
            tasks.start_soon(hostile_client, portal, index, tally, gate, hostile_codes)
        with anyio.move_on_after(START_TIMEOUT_S):
            await gate.all_in.wait()
        if gate.connected < good + hostile:
            raise TimeoutError(f"only {gate.connected} of {good + hostile} clients connected")
        begun = gate.open(seconds)
    tally.seconds = time.monotonic() - begun
    return tally


# -- the request log, read back from disk ---------------------------------------------------


def logged(path: Path) -> Counter[str]:
    """Rows per kind (`tool_call`, `code_run`) in a request log file, opened afresh."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT kind, COUNT(*) FROM requests GROUP BY kind").fetchall()
    return Counter({kind: int(n) for kind, n in rows})


def logged_rows(path: Path) -> list[tuple[str, str, str, str | None]]:
    """(kind, status, capability, error) of every row, oldest first."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute(
            "SELECT kind, status, capability, error FROM requests ORDER BY id"
        ).fetchall()


# -- SIGTERM during load ----------------------------------------------------------------------


@dataclass
class Drain:
    """What happened to code runs in flight when the portal got SIGTERM."""

    results: list[str]
    """Per run: "ok", or what the client got instead."""
    refused: str
    """What a new connection attempted during the drain got."""
    exit_code: int
    exit_s: float
    """From SIGTERM to the process's exit."""
    rows: list[tuple[str, str, str, str | None]]
    """The request log file's rows, read after the exit."""
    background: Tally
    """The well-behaved clients that kept going meanwhile (requests after the SIGTERM are
    refused, so they see errors)."""

    @property
    def ok(self) -> int:
        return self.results.count("ok")


def slow_code(seconds: float) -> str:
    return f'await codemode.demo_slow({{ seconds: {seconds} }});\nreturn "drained";'


async def slow_started(portal: Portal) -> int:
    """How many `slow` calls the demo upstream has begun, asked directly (not logged)."""
    headers = {"Authorization": f"Bearer {portal.token}"}
    async with (
        httpx2.AsyncClient(headers=headers) as http,
        Client(streamable_http_client(portal.upstream.url, http_client=http)) as client,
    ):
        await list_all_tools(client)  # `stats` is on a later page
        result = await client.call_tool("stats", {})
    payload = result.structured_content or json.loads(_text(result))
    return int(payload["slow_started"])


async def drain(
    portal: Portal, *, runs: int, slow_s: float, exit_timeout_s: float, background: int = 0
) -> Drain:
    """With `background` well-behaved clients going, start `runs` code runs that each call
    the demo's `slow` tool for `slow_s`; once the upstream has seen every call start, SIGTERM
    the portal and try a new connection."""
    outcomes: list[str] = []
    before = await slow_started(portal)
    load = Tally()
    exited = anyio.Event()

    async def one() -> None:
        try:
            async with connect(portal.url(Surface.CODE)) as client:
                await client.list_tools()  # or the SDK lists them mid-drain to check the result
                result = await client.call_tool("code", {"code": slow_code(slow_s)})
            ok = not result.is_error and "drained" in _text(result)
            outcomes.append("ok" if ok else f"error result: {_text(result)[:300]}")
        except Exception as exc:
            outcomes.append(describe(exc))

    stopped: list[int] = []
    signalled = 0.0

    async def stop() -> None:
        nonlocal signalled
        signalled = time.monotonic()
        try:
            stopped.append(await anyio.to_thread.run_sync(portal.terminate, exit_timeout_s))
        finally:
            exited.set()

    async def keep_going() -> None:
        await drive(
            portal, good=background, hostile=0, seconds=START_TIMEOUT_S, stop=exited, tally=load
        )

    async with anyio.create_task_group() as tasks:
        if background:
            tasks.start_soon(keep_going)
            with anyio.fail_after(START_TIMEOUT_S):
                while load.requests < background:  # noqa: ASYNC110 (a count, not an event)
                    await anyio.sleep(0.05)
        for _ in range(runs):
            tasks.start_soon(one)
        with anyio.fail_after(START_TIMEOUT_S):
            while await slow_started(portal) - before < runs:  # noqa: ASYNC110 (another process)
                await anyio.sleep(0.05)
        tasks.start_soon(stop)
        await anyio.sleep(0.3)  # the signal is handled; the runs are still going
        refused = await new_request(portal)
    exit_s = time.monotonic() - signalled
    exit_code = stopped[0]
    return Drain(outcomes, refused, exit_code, exit_s, logged_rows(portal.log_path), load)


async def new_request(portal: Portal) -> str:
    """What a new client gets while the portal drains: it must fail at once, not hang."""
    draining = portal.server.process is not None and portal.server.process.poll() is None
    try:
        with anyio.fail_after(10):
            async with connect(portal.url(Surface.ALL)) as client:
                await client.list_tools()
    except Exception as exc:
        where = "during the drain" if draining else "after the exit"
        return f"{describe(exc)} {where}"
    return "served"


def describe(exc: BaseException) -> str:
    """The one exception inside nested single-member groups (task groups wrap them)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"[:300]


# -- the benchmark ----------------------------------------------------------------------------


@dataclass
class Figures:
    clients: int
    hostile: int
    warmup: Tally
    baseline: Tally
    loops: Tally
    """Well-behaved clients plus RUNAWAYS clients running infinite loops only."""
    load: Tally
    start: ProcStats
    end: ProcStats
    expected: Counter[str]
    logged: Counter[str]
    exit_code: int
    drain: Drain
    drain_runs: int
    drain_slow_s: float
    grace_s: float


async def measure(
    tmp: Path, *, clients: int, hostile: int, seconds: float, baseline_s: float, warmup_s: float
) -> Figures:
    grace_s = 20.0
    with serve(tmp / "load", grace_s=grace_s) as portal:
        await wait_ready(portal)
        warmup = await drive(portal, good=clients, hostile=hostile, seconds=warmup_s)
        await anyio.sleep(1.0)
        start = proc_stats(portal.pid)
        baseline = await drive(portal, good=clients, hostile=0, seconds=baseline_s)
        loops = await drive(
            portal, good=clients, hostile=RUNAWAYS, seconds=baseline_s, hostile_codes=[LOOP]
        )
        main = await drive(portal, good=clients, hostile=hostile, seconds=seconds)
        await anyio.sleep(1.0)
        end = proc_stats(portal.pid)
        exit_code = await anyio.to_thread.run_sync(portal.terminate, grace_s + 30)
        everything = Tally()
        for tally in (warmup, baseline, loops, main):
            everything.merge(tally)
        expected = Counter(tool_call=everything.tool_calls, code_run=everything.code_runs)
        on_disk = logged(portal.log_path)
    drain_runs, slow_s = 10, 2.0
    with serve(tmp / "drain", grace_s=grace_s) as portal:
        await wait_ready(portal)
        drained = await drain(
            portal,
            runs=drain_runs,
            slow_s=slow_s,
            exit_timeout_s=grace_s + 30,
            background=clients,
        )
    return Figures(
        clients, hostile, warmup, baseline, loops, main, start, end, expected, on_disk, exit_code,
        drained, drain_runs, slow_s, grace_s,
    )  # fmt: skip


def render(f: Figures) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    growth = (f.end.rss_mb / f.start.rss_mb - 1) * 100
    ratio = f.loops.p95() / f.baseline.p95()
    mixed_ratio = f.load.p95() / f.baseline.p95()
    complete = "yes" if f.expected == f.logged else "**no**"
    drain_rows = Counter((k, s) for k, s, tool, _ in f.drain.rows if tool == "demo_slow")
    other = Counter(k for k, _, tool, _ in f.drain.rows if tool != "demo_slow")
    bg = f.drain.background
    hostile = ", ".join(f"{kind} {n}" for kind, n in sorted(f.load.hostile_kinds.items()))
    return "\n".join(
        [
            "# Load",
            "",
            f"{stamp}; {machine()}. Written by `python -m benchmarks.load`.",
            "",
            "`codemode serve` (own process) with the demo upstream (own process, streamable HTTP)",
            "and mcp-server-time (stdio); request log in a SQLite file. Clients: the `mcp` SDK's",
            "streamable-HTTP client, each with its own session, all in one client process on the",
            f"same machine. {f.clients} well-behaved clients mix tools/list, direct calls,",
            "`query`,"
            " `execute` (1 upstream call) and `code` (1-3 calls), a fifth of them on the 2025-era",
            f"protocol; {f.hostile} hostile clients run infinite loops and memory bombs in turn",
            f"(sandbox CPU budget {CPU_S:g} s, heap 64 MiB).",
            "",
            "| phase | seconds | requests | requests/s | code runs/s | p95 (ms) | errors |",
            "|---|---:|---:|---:|---:|---:|---:|",
            _phase("warm-up, with hostile clients", f.warmup),
            _phase("well-behaved clients alone", f.baseline),
            _phase(f"with {RUNAWAYS} clients running infinite loops", f.loops),
            _phase(f"with {f.hostile} hostile clients", f.load),
            "",
            f"- Hostile runs in the load phase: {f.load.ops['hostile']} ({hostile}); unexpected "
            f"outcomes: {len(f.load.hostile_unexpected)}.",
            f"- p95 of the well-behaved clients with {RUNAWAYS} runaway loops always running / "
            f"alone: {ratio:.2f}x (target: at most 2x); with the {f.hostile} hostile clients: "
            f"{mixed_ratio:.2f}x.",
            f"- Portal process after warm-up: RSS {f.start.rss_mb:.0f} MB, {f.start.threads} "
            f"threads, {f.start.fds} open fds; after the load: RSS {f.end.rss_mb:.0f} MB "
            f"({growth:+.1f}%; target at most +10%), {f.end.threads} threads, {f.end.fds} fds.",
            f"- Request log after SIGTERM (exit code {f.exit_code}), reopened from disk: "
            f"{f.logged['tool_call']} upstream-call rows and {f.logged['code_run']} code-run rows;"
            f" the clients made {f.expected['tool_call']} and {f.expected['code_run']}. "
            f"Complete: {complete}.",
            f"- SIGTERM with {f.drain_runs} code runs in flight (each calling `slow` for "
            f"{f.drain_slow_s:g} s) while {f.clients} other clients keep going, grace "
            f"{f.grace_s:g} s: {f.drain.ok}/{f.drain_runs} runs returned their result; a new "
            f"connection during the drain: {f.drain.refused}; exit code {f.drain.exit_code} "
            f"after {f.drain.exit_s:.1f} s. The other clients' requests after the signal were "
            f"refused ({len(bg.errors)} errors); of theirs, {bg.answered_tool_calls} answered "
            f"upstream calls and {bg.answered_code_runs} answered runs, the log holds "
            f"{other['tool_call']} and {other['code_run'] - f.drain_runs} (at most "
            f"{bg.tool_calls} and {bg.code_runs} were sent). Rows of the slow calls: "
            + ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(drain_rows.items()))
            + ".",
            "",
        ]
    )


def _phase(name: str, t: Tally) -> str:
    return (
        f"| {name} | {t.seconds:.0f} | {t.requests} | {t.requests / t.seconds:.1f} "
        f"| {t.runs / t.seconds:.1f} | {t.p95():.0f} | {len(t.errors)} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=60.0, help="load phase (60)")
    parser.add_argument("--baseline", type=float, default=20.0, help="baseline phase (20)")
    parser.add_argument("--warmup", type=float, default=10.0, help="warm-up phase (10)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--hostile", type=int, default=4)
    parser.add_argument("--out", type=Path, default=RESULTS / "load.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        figures = anyio.run(
            lambda: measure(
                Path(tmp),
                clients=args.clients,
                hostile=args.hostile,
                seconds=args.seconds,
                baseline_s=args.baseline,
                warmup_s=args.warmup,
            )
        )
    text = render(figures)
    for error in figures.load.errors[:10] + figures.load.hostile_unexpected[:10]:
        print("problem:", error, file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
