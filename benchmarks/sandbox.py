"""Sandbox benchmark: our QuickJS-in-wasmtime bridge beside quickjs-rs, in one run.

    python -m benchmarks.sandbox            # needs the `bench` extra (quickjs-rs, psutil)

Prints a table (ours, peer, ratio, target) and writes it to benchmarks/results/sandbox.md.
Every figure is a median over repetitions taken in this process, interleaving ours and the
peer's so that machine noise hits both alike. Peak RSS is measured in fresh subprocesses.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox import Limits, Sandbox

RESULTS = Path(__file__).parent / "results" / "sandbox.md"

THREE_CALLS = (
    "const a = await t1({q: 1}); const b = await t2({q: 2}); const c = await t3({q: 3}); [a, b, c]"
)
SEQUENTIAL = "let s = 0; for (let i = 0; i < 1000; i++) s += (await t1({i})).i; s"
PARALLEL = "(await Promise.all(Array.from({length: 1000}, (_, i) => t1({i})))).length"
CPU_LOOP = "let s = 0; for (let i = 0; i < 3000000; i++) { s += i % 7 } s"
CONCURRENT_RUNS = 100

LIMITS = Limits(max_calls=5000, max_concurrent_calls=1000, cpu_s=30, timeout_s=60)


async def _echo(args: Any) -> Any:
    return args


def ours_code(code: str) -> str:
    """Our sandbox exposes tools as `codemode.<name>`; the peer's as globals."""
    for name in ("t1", "t2", "t3"):
        code = code.replace(f"{name}(", f"codemode.{name}(")
    return code


class Ours:
    name = "codemode"

    def __init__(self) -> None:
        self.box = Sandbox(LIMITS, pool_size=4)

    async def run(self, code: str) -> Any:
        result = await self.box.run(
            ours_code(code), call=lambda n, a: _echo(a), names={"t1", "t2", "t3"}
        )
        if result.error is not None:
            raise RuntimeError(str(result.error))
        return result.value

    async def startup_ms(self) -> float:
        result = await self.box.run("0", call=lambda n, a: _echo(a), names={"t1"})
        return result.startup_ms


class Peer:
    name = "quickjs-rs 0.2.6"

    def __init__(self) -> None:
        import quickjs_rs

        self.qjs = quickjs_rs

    async def run(self, code: str) -> Any:
        with self.qjs.Runtime() as rt, rt.new_context(timeout=60) as ctx:
            for tool in ("t1", "t2", "t3"):
                ctx.register(tool, _echo, is_async=True)
            return await ctx.eval_async(code, timeout=60)

    async def startup_ms(self) -> float:
        """Time to a fresh runtime + context evaluating its first instruction."""
        started = time.perf_counter()
        with self.qjs.Runtime() as rt, rt.new_context() as ctx:
            ctx.eval("0")
            return (time.perf_counter() - started) * 1000


async def timed(fn: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await fn()
    return (time.perf_counter() - started) * 1000


async def median_ms(engine: Ours | Peer, code: str, repeats: int) -> float:
    samples = [await timed(lambda: engine.run(code)) for _ in range(repeats)]
    return statistics.median(samples)


async def startup(engine: Ours | Peer, repeats: int) -> float:
    samples = []
    for _ in range(repeats):
        await asyncio.sleep(0.01)  # let the pool refill, as between real requests
        samples.append(await engine.startup_ms())
    return statistics.median(samples)


@dataclass
class Row:
    metric: str
    ours: float
    peer: float
    unit: str
    target: str
    met: bool

    @property
    def ratio(self) -> str:
        return f"{self.peer / self.ours:.2f}x" if self.ours else "-"


async def measure(repeats: int) -> list[Row]:
    ours, peer = Ours(), Peer()
    await ours.run("0")  # compile / load caches, fill the pool
    await peer.run("0")
    await asyncio.sleep(0.2)
    rows = []
    s_ours, s_peer = await startup(ours, 30), await startup(peer, 30)
    rows.append(Row("warm start to first instruction", s_ours, s_peer, "ms", "< 1 ms", s_ours < 1))
    for metric, code, target, check in [
        ("one run with 3 tool calls", THREE_CALLS, "-", None),
        ("1,000 sequential tool calls", SEQUENTIAL, ">= 3x faster", "seq"),
        ("1,000 parallel tool calls", PARALLEL, "< 50 ms", "par"),
        ("3M-iteration CPU loop", CPU_LOOP, "<= 1.2x peer", "cpu"),
    ]:
        o: list[float] = []
        p: list[float] = []
        for _ in range(repeats):  # interleave so noise hits both
            o.append(await timed(functools.partial(ours.run, code)))
            p.append(await timed(functools.partial(peer.run, code)))
        mo, mp = statistics.median(o), statistics.median(p)
        met = {"seq": mp / mo >= 3, "par": mo < 50, "cpu": mo <= 1.2 * mp, None: True}[check]
        rows.append(Row(metric, mo, mp, "ms", target, met))
    rss_o, rss_p = peak_rss_mb("ours"), peak_rss_mb("peer")
    rows.append(Row(f"peak RSS, {CONCURRENT_RUNS} concurrent runs", rss_o, rss_p, "MB", "-", True))
    ours.box.close()
    return rows


# -- peak RSS in a fresh process ----------------------------------------------------------------


async def _concurrent_runs(engine: Ours | Peer) -> None:
    async def slow(args: Any) -> Any:
        await asyncio.sleep(0.3)
        return args

    code = "const r = await t1({x: 1}); const big = 'x'.repeat(100000); r.x + big.length"

    async def one() -> None:
        if isinstance(engine, Ours):
            await engine.box.run(ours_code(code), call=lambda n, a: slow(a), names={"t1"})
        else:
            with engine.qjs.Runtime() as rt, rt.new_context(timeout=60) as ctx:
                ctx.register("t1", slow, is_async=True)
                await ctx.eval_async(code, timeout=60)

    await asyncio.gather(*(one() for _ in range(CONCURRENT_RUNS)))


def peak_rss_mb(which: str) -> float:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.sandbox", "--rss-child", which],
        check=True,
        capture_output=True,
        text=True,
    )
    return float(out.stdout.strip())


def rss_child(which: str) -> None:
    engine: Ours | Peer = Ours() if which == "ours" else Peer()
    asyncio.run(_concurrent_runs(engine))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


# -- report -------------------------------------------------------------------------------------


def machine() -> str:
    import os

    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except OSError:
        pass
    return f"{platform.machine()}, {os.cpu_count()} cores{mem}, Python {platform.python_version()}"


def table(rows: list[Row]) -> str:
    lines = [
        "| metric | codemode | quickjs-rs 0.2.6 | peer / ours | target | met |",
        "|---|---:|---:|---:|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.metric} | {r.ours:.2f} {r.unit} | {r.peer:.2f} {r.unit} | {r.ratio} "
            f"| {r.target} | {'yes' if r.met else '**no**'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rss-child", choices=["ours", "peer"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(args.rss_child)
        return
    rows = asyncio.run(measure(args.repeats))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = (
        f"# Sandbox benchmark\n\n{stamp}; {machine()}.\n"
        f"Medians of {args.repeats} runs (start: 30), ours and the peer interleaved; "
        "each run in a fresh instance for both. Peak RSS: fresh process each.\n\n"
        f"{table(rows)}\n"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)
    print(json.dumps({r.metric: [round(r.ours, 3), round(r.peer, 3)] for r in rows}))


if __name__ == "__main__":
    main()
