"""Two source trees side by side: the per-call overhead and throughput of each (issue 17).

    python -m benchmarks.hotpath --base /tmp/hp-base            # before (a tree) vs this tree
    python -m benchmarks.hotpath --loop execute --seconds 20    # one portal busy, for py-spy

One demo upstream and one `codemode serve` per tree, each its own process, started with
`python -P` and the tree first on PYTHONPATH (so each portal runs its own tree's code). Rows
(a) one call via ALL and (b) `execute` making one call are sampled with the trees and the
direct call interleaved, so machine noise hits all three alike. Then throughput at 50
concurrent sessions (`code` with 2 upstream calls, as in `benchmarks.latency`), the trees
taking turns, several rounds; the load generator's CPU and each portal's CPU per run come
from /proc. Prints a markdown table; `benchmarks/results/hotpath.md` holds the recorded runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import AsyncExitStack, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from mcp.client import Client

from benchmarks.latency import (
    ONE_CALL,
    PORTAL,
    TOKEN_ENV,
    Stats,
    checked,
    config_toml,
    connect,
    load,
    timed_ms,
    wait_ready,
)
from benchmarks.sandbox import machine
from tests.upstreams.harness import RunningServer, demo_argv, running

HERE = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int) -> float:
    """User + system CPU of a process so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


@contextmanager
def portals(trees: Sequence[Path]) -> Iterator[tuple[RunningServer, list[RunningServer], str]]:
    token = "bench-" + uuid.uuid4().hex
    with (
        running(demo_argv(), env={"DEMO_TOKEN": token}) as upstream,
        tempfile.TemporaryDirectory() as tmp,
        ExitStack() as stack,
    ):
        config = Path(tmp) / "portal.toml"
        config.write_text(config_toml(upstream.url), encoding="utf-8")
        argv = [sys.executable, "-P", "-m", "engine.cli", "serve", "--config", str(config)]
        started = [
            stack.enter_context(
                running([*argv, "--port", "{port}"], env={TOKEN_ENV: token, "PYTHONPATH": str(t)})
            )
            for t in trees
        ]
        yield upstream, started, token


@dataclass(frozen=True)
class Row:
    name: str
    added: list[float]
    """Added p50 (ms) over the direct call, one per tree."""
    portal: list[Stats]
    direct: Stats
    cpu_ms: list[float]


async def latency(
    clients: list[Client],
    up: Client,
    tool: str,
    args: dict[str, Any],
    samples: int,
    pids: list[int],
) -> tuple[list[Stats], Stats, list[float]]:
    """Each portal's p50 etc., the direct call's, and each portal's CPU per call (ms)."""

    async def direct() -> None:
        checked(await up.call_tool("echo", {"value": 1}))

    ops = [_op(c, tool, args) for c in clients]
    for _ in range(max(10, samples // 10)):
        for op in [*ops, direct]:
            await op()
    got: list[list[float]] = [[] for _ in ops]
    d: list[float] = []
    cpu = [cpu_s(p) for p in pids]
    for _ in range(samples):
        for i, op in enumerate(ops):
            got[i].append(await timed_ms(op))
        d.append(await timed_ms(direct))
    per_call = [(cpu_s(p) - c) / samples * 1000 for p, c in zip(pids, cpu, strict=True)]
    return [Stats.of(g) for g in got], Stats.of(d), per_call


def _op(client: Client, tool: str, args: dict[str, Any]) -> Any:
    async def op() -> None:
        checked(await client.call_tool(tool, args))

    return op


async def compare(trees: Sequence[Path], samples: int, rounds: int, runs_each: int) -> str:
    with portals(trees) as (upstream, servers, token):
        bases = [f"{s.base}/p/{PORTAL}/mcp" for s in servers]
        pids = [s.process.pid for s in servers if s.process is not None]
        for b in bases:
            await wait_ready(b)
        rows = []
        async with connect(upstream.url, token) as up:
            for name, suffix, tool, args in (
                ("(a) one call via ALL", "", "demo_echo", {"value": 1}),
                (
                    "(b) `execute`, code making 1 call",
                    "?optimize_context=search_and_execute",
                    "execute",
                    {"code": ONE_CALL},
                ),
            ):
                async with _many([b + suffix for b in bases]) as clients:
                    stats, direct, cpu = await latency(clients, up, tool, args, samples, pids)
                rows.append(Row(name, [s.p50 - direct.p50 for s in stats], stats, direct, cpu))
        loads = await throughput(servers, bases, rounds, runs_each)
    return render(trees, rows, loads, samples, runs_each)


class _many:
    """Open one session per URL (async context manager)."""

    def __init__(self, urls: list[str]) -> None:
        self.urls = urls
        self.astack = AsyncExitStack()

    async def __aenter__(self) -> list[Client]:
        return [await self.astack.enter_async_context(connect(u)) for u in self.urls]

    async def __aexit__(self, *exc: object) -> None:
        await self.astack.aclose()


@dataclass(frozen=True)
class LoadRow:
    tree: int
    runs_per_s: float
    p95: float
    errors: int
    client_cpu: float
    portal_cpu_ms_per_run: float
    peak_rss_mb: float


async def throughput(
    servers: list[RunningServer], bases: list[str], rounds: int, runs_each: int
) -> list[LoadRow]:
    out = []
    for _ in range(rounds):
        for i, (server, base) in enumerate(zip(servers, bases, strict=True)):
            assert server.process is not None
            pid = server.process.pid
            before = cpu_s(pid)
            got = await load(f"{base}?codemode=search_and_execute", 50, runs_each, pid)
            per_run = (cpu_s(pid) - before) / got.runs * 1000
            out.append(
                LoadRow(
                    i,
                    got.runs_per_s,
                    got.p95,
                    got.errors,
                    got.client_cpu,
                    per_run,
                    got.peak_rss_mb,
                )
            )
    return out


def render(
    trees: Sequence[Path], rows: list[Row], loads: list[LoadRow], samples: int, runs_each: int
) -> str:
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load1 = os.getloadavg()
    lines = [
        f"{stamp}; {machine()}; load average {load1[0]:.1f} / {load1[1]:.1f} at the end.",
        "",
        "trees: " + ", ".join(f"[{i}] {t}" for i, t in enumerate(trees)),
        "",
        f"Latency, {samples} samples each, interleaved (ms; added = portal p50 - direct p50):",
        "",
        "| scenario | direct p50 | "
        + " | ".join(f"[{i}] p50 | [{i}] added | [{i}] CPU/call" for i in range(len(trees)))
        + " |",
        "|---|---:|" + "---:|---:|---:|" * len(trees),
    ]
    for r in rows:
        cells = " | ".join(
            f"{s.p50:.2f} | {a:+.2f} | {c:.2f}"
            for s, a, c in zip(r.portal, r.added, r.cpu_ms, strict=True)
        )
        lines.append(f"| {r.name} | {r.direct.p50:.2f} | {cells} |")
    lines += [
        "",
        f"Throughput, 50 concurrent sessions, each `code` with 2 calls x {runs_each}, the trees "
        "taking turns:",
        "",
        "| tree | runs/s | p95 (ms) | errors | portal CPU per run (ms) | load generator CPU "
        "| portal peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| [{x.tree}] | {x.runs_per_s:.1f} | {x.p95:.0f} | {x.errors} "
        f"| {x.portal_cpu_ms_per_run:.1f} | {x.client_cpu:.0%} of a core | {x.peak_rss_mb:.0f} MB |"
        for x in loads
    ]
    return "\n".join(lines)


async def loop(scenario: str, seconds: float) -> None:
    """One portal of this tree, busy with one scenario for `seconds`; prints its pid first."""
    with portals([HERE]) as (_upstream, (server,), _):
        base = f"{server.base}/p/{PORTAL}/mcp"
        await wait_ready(base)
        url, tool, args = (
            (base, "demo_echo", {"value": 1})
            if scenario == "direct"
            else (base + "?optimize_context=search_and_execute", "execute", {"code": ONE_CALL})
        )
        async with connect(url) as client:
            op = _op(client, tool, args)
            for _ in range(30):
                await op()
            assert server.process is not None
            pid = server.process.pid
            print(f"PID {pid}", flush=True)
            await anyio.Path("/tmp/hp-pid").write_text(str(pid))
            await anyio.sleep(1.0)
            before, calls, end = cpu_s(pid), 0, time.monotonic() + seconds
            while time.monotonic() < end:
                await op()
                calls += 1
            cpu = (cpu_s(pid) - before) / calls * 1000
            print(f"{calls} calls, portal CPU {cpu:.2f} ms per call", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, help="the other tree (e.g. a worktree of main)")
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=10, help="code runs per client under load")
    parser.add_argument("--loop", choices=("direct", "execute"))
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if args.loop:
        anyio.run(loop, args.loop, args.seconds)
        return
    trees = [args.base.resolve(), HERE] if args.base else [HERE]
    print(anyio.run(compare, trees, args.samples, args.rounds, args.runs))


if __name__ == "__main__":
    main()
