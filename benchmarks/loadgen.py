"""A load generator for the scaling benchmark, in processes of its own.

`fire` starts `procs` processes (multiprocessing, spawn); each runs one async httpx2 client
with `concurrency / procs` connections and as many tasks, every task posting 2026-07-28-era
stateless `tools/call` JSON-RPC requests (one self-contained POST each: no `initialize`, no
session, what the `mcp` SDK's client sends) back to back until the deadline or its share of
`max_requests`. Not the SDK client: building and validating its models costs more CPU per
call than the portal spends, so it would saturate first. Each process returns its latencies,
errors, the `codemode-worker` header of every answer and its own CPU time.

CPU of any other process is read from /proc/<pid>/stat (psutil is not a dependency).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROTOCOL = "2026-07-28"
REQUEST_TIMEOUT_S = 30.0
"""A request slower than this is an error, not a stall."""
START_MARGIN_S = 2.0
"""Time for the processes to start and import before the common start instant."""
WORKER_HEADER = "codemode-worker"
MAX_ERROR_SAMPLES = 5


@dataclass(frozen=True)
class Shot:
    """One measurement: `concurrency` connections posting to `url` for `seconds`."""

    url: str
    tool: str
    arguments: dict[str, Any]
    concurrency: int
    seconds: float
    max_requests: int
    procs: int = 2


@dataclass
class Outcome:
    """What the load generator's processes saw, merged."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    workers: Counter[str] = field(default_factory=Counter)
    cpu_s: float = 0.0
    """CPU time of the load generator's processes during the shot."""
    seconds: float = 0.0

    @property
    def calls(self) -> int:
        return len(self.latencies_ms)

    @property
    def rate(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float:
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else float("nan")
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]

    def merge(self, other: Outcome) -> None:
        self.latencies_ms += other.latencies_ms
        self.errors += other.errors
        room = MAX_ERROR_SAMPLES - len(self.error_samples)
        self.error_samples += other.error_samples[: max(room, 0)]
        self.workers.update(other.workers)
        self.cpu_s += other.cpu_s
        self.seconds = max(self.seconds, other.seconds)


def call_body(tool: str, arguments: dict[str, Any], request_id: int) -> bytes:
    meta = {
        "io.modelcontextprotocol/protocolVersion": PROTOCOL,
        "io.modelcontextprotocol/clientInfo": {"name": "codemode-loadgen", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    params = {"name": tool, "arguments": arguments, "_meta": meta}
    message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
    return json.dumps(message).encode()


def headers(tool: str) -> dict[str, str]:
    return {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": PROTOCOL,
        "mcp-method": "tools/call",
        "mcp-name": tool,
    }


def problem(status: int, content_type: str, body: bytes) -> str | None:
    """None for a successful tool result; else what went wrong, briefly."""
    if status != 200:
        return f"HTTP {status}: {body[:200]!r}"
    text = body.decode(errors="replace")
    if content_type.startswith("text/event-stream"):  # the last `data:` line is the response
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = data[-1] if data else ""
    try:
        message = json.loads(text)
    except ValueError:
        return f"not JSON: {text[:200]}"
    if "error" in message:
        return f"JSON-RPC error: {json.dumps(message['error'])[:200]}"
    if message.get("result", {}).get("isError"):
        return f"tool error: {json.dumps(message['result'])[:200]}"
    return None


async def _client(shot: Shot, tasks: int, budget: int, start_at: float) -> Outcome:
    import anyio
    import httpx2

    out = Outcome()
    deadline = start_at + shot.seconds
    sent = 0
    limits = httpx2.Limits(max_connections=tasks, max_keepalive_connections=tasks)
    timeout = httpx2.Timeout(REQUEST_TIMEOUT_S)

    async def one_task(http: httpx2.AsyncClient, index: int) -> None:
        nonlocal sent
        request_id = index * 1_000_000
        while time.time() < deadline and sent < budget:
            sent += 1
            request_id += 1
            body = call_body(shot.tool, shot.arguments, request_id)
            began = time.perf_counter()
            try:
                response = await http.post(shot.url, content=body, headers=headers(shot.tool))
                content = response.content
                failed = problem(
                    response.status_code, response.headers.get("content-type", ""), content
                )
                worker = response.headers.get(WORKER_HEADER, "-")
            except httpx2.HTTPError as exc:
                failed, worker = f"{type(exc).__name__}: {exc}"[:200], "-"
            if failed is None:
                out.latencies_ms.append((time.perf_counter() - began) * 1000)
                out.workers[worker] += 1
            else:
                out.errors += 1
                if len(out.error_samples) < MAX_ERROR_SAMPLES:
                    out.error_samples.append(failed)

    async with httpx2.AsyncClient(limits=limits, timeout=timeout) as http:
        await anyio.sleep(max(start_at - time.time(), 0))
        cpu0, began = time.process_time(), time.time()
        async with anyio.create_task_group() as group:
            for index in range(tasks):
                group.start_soon(one_task, http, index)
        out.cpu_s = time.process_time() - cpu0
        out.seconds = time.time() - began
    return out


def _process(shot: Shot, tasks: int, budget: int, start_at: float) -> Outcome:
    import anyio

    return anyio.run(_client, shot, tasks, budget, start_at)


def fire(shot: Shot) -> Outcome:
    """Run `shot` from `shot.procs` processes; their merged outcome."""
    procs = max(1, min(shot.procs, shot.concurrency))
    start_at = time.time() + START_MARGIN_S
    jobs = []
    for p in range(procs):
        tasks = shot.concurrency // procs + (1 if p < shot.concurrency % procs else 0)
        budget = shot.max_requests // procs + (1 if p < shot.max_requests % procs else 0)
        jobs.append((shot, tasks, budget, start_at))
    context = multiprocessing.get_context("spawn")
    with context.Pool(procs) as pool:
        outcomes = pool.starmap(_process, jobs)
    merged = Outcome()
    for outcome in outcomes:
        merged.merge(outcome)
    return merged


# -- CPU of other processes, from /proc -------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2 :].split()  # after "pid (comm) "


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid` so far (0 if it is gone)."""
    fields = _stat(pid)
    return 0.0 if fields is None else (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def descendants(root: int) -> list[int]:
    """`root` and every process below it."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (fields := _stat(int(entry))) is not None:
            parents[int(entry)] = int(fields[1])
    found, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        found += frontier
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def load_average() -> str:
    """The 1/5/15-minute load averages, as `uptime` shows them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])
