"""Scale-out: direct-call throughput of 1 and 2 workers, and 1 and 2 replicas behind HAProxy.

    python -m benchmarks.scale [--quick] [--seconds 12] [--sqlite]

Each configuration is a real `codemode serve` (`--workers N`, or N plain replicas behind
Debian's `haproxy` with the README's configuration) in front of mcp-server-time over stdio:
one upstream per serving process, as in production (stdio upstreams run per worker and per
replica), so the upstream grows with the portal instead of being one shared bottleneck. The
store is a throwaway PostgreSQL cluster (tests/pg_cluster.py; a new database per
configuration), or a SQLite file in WAL mode with `--sqlite` or without PostgreSQL installed.
The load generator (benchmarks/loadgen.py, 2 processes of async httpx2) posts stateless
2026-07-28 `tools/call` of `time_get_current_time` at 10, 50 and 200 connections. CPU of
every process (portal, upstream, haproxy, postgres, load generator) is read from /proc.
Writes benchmarks/results/scale.md and scale.png.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx2

from benchmarks import loadgen
from benchmarks.loadgen import Outcome, Shot
from benchmarks.sandbox import machine
from tests.haproxy import haproxy_config
from tests.pg_cluster import PgCluster, pg_bin_dir
from tests.upstreams.harness import free_port

RESULTS = Path(__file__).parent / "results"
SECRET_ENV = "CODEMODE_SCALE_BENCH_KEY"
TOOL = "time_get_current_time"
ARGUMENTS = {"timezone": "UTC"}
READY_TIMEOUT_S = 90.0
MAX_REQUESTS = 200_000
"""Bounds every shot besides its duration."""
WARMUP_S = 2.0


@dataclass(frozen=True)
class Layout:
    name: str
    workers: int
    replicas: int
    """0: no balancer, clients talk to `serve` directly."""

    @property
    def processes(self) -> int:
        return max(self.workers, self.replicas)


LAYOUTS = (
    Layout("1 worker", 1, 0),
    Layout("2 workers", 2, 0),
    Layout("1 replica + HAProxy", 1, 1),
    Layout("2 replicas + HAProxy", 1, 2),
)


def config_toml(directory: Path, database_url: str) -> Path:
    time_server = Path(sys.executable).parent / "mcp-server-time"
    path = directory / "portal.toml"
    path.write_text(
        f"""
[[servers]]
id = "time"
command = {json.dumps(str(time_server))}

[[portals]]
id = "bench"
servers = [{{ server_id = "time" }}]

[settings]
request_log_path = {json.dumps(str(directory / "requests.sqlite3"))}
database_url = {json.dumps(database_url)}
secret_key_env = "{SECRET_ENV}"
""",
        encoding="utf-8",
    )
    return path


# -- processes --------------------------------------------------------------------------------


@contextlib.contextmanager
def started(argv: list[str], log: Path, env: dict[str, str] | None = None) -> Iterator[int]:
    """`argv` in its own session, output to `log`; its pid. SIGTERM (then SIGKILL) on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )  # fmt: skip
    try:
        yield process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def serve_argv(config: Path, port: int, workers: int) -> list[str]:
    argv = [sys.executable, "-m", "engine.cli", "serve", "--config", str(config)]
    return [*argv, "--port", str(port), "--workers", str(workers)]


def balancer_config(port: int, replicas: list[int]) -> str:
    """The README's HAProxy configuration with as many `server` lines as `replicas`."""
    text = haproxy_config(port, [*replicas, *replicas][:2])
    lines = text.splitlines(keepends=True)
    servers = [i for i, line in enumerate(lines) if line.startswith("    server ")]
    drop = set(servers[len(replicas) :])
    return "".join(line for i, line in enumerate(lines) if i not in drop)


def call_once(url: str) -> tuple[str | None, str]:
    """One direct call on a fresh connection: (problem or None, the answering worker)."""
    body = loadgen.call_body(TOOL, ARGUMENTS, 1)
    try:
        response = httpx2.post(url, content=body, headers=loadgen.headers(TOOL), timeout=30)
    except httpx2.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}", "-"
    answer = loadgen.problem(
        response.status_code, response.headers.get("content-type", ""), response.content
    )
    return answer, response.headers.get(loadgen.WORKER_HEADER, "-")


def wait_serving(url: str, workers: int) -> None:
    """Until a direct call succeeds, answered by each of `workers` workers (fresh connections
    land on workers by the kernel's hash, so a few tries reach all)."""
    wanted = {str(n) for n in range(1, workers + 1)} if workers > 1 else {"-"}
    seen: set[str] = set()
    last: str | None = "not tried"
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        last, worker = call_once(url)
        if last is None:
            seen.add(worker)
            if wanted <= seen:
                return
        time.sleep(0.1 if last is None else 0.5)
    raise TimeoutError(f"{url} not serving from {sorted(wanted)} (seen {seen}; last: {last})")


@dataclass
class Deployment:
    url: str
    roots: dict[str, list[int]]
    """Process-tree roots by role: portal, haproxy, postgres."""


@contextlib.contextmanager
def deploy(layout: Layout, directory: Path, database_url: str) -> Iterator[Deployment]:
    directory.mkdir(parents=True, exist_ok=True)
    config = config_toml(directory, database_url)
    env = {SECRET_ENV: "scale-bench-" + os.urandom(16).hex()}
    with contextlib.ExitStack() as stack:
        count = max(layout.replicas, 1)
        ports = [free_port() for _ in range(count)]
        pids = [
            stack.enter_context(
                started(serve_argv(config, p, layout.workers), directory / f"serve{i}.log", env)
            )
            for i, p in enumerate(ports)
        ]
        for port in ports:
            wait_serving(f"http://127.0.0.1:{port}/mcp", layout.workers)
        roots: dict[str, list[int]] = {"portal": pids}
        url = f"http://127.0.0.1:{ports[0]}/mcp"
        if layout.replicas:
            port = free_port()
            cfg = directory / "haproxy.cfg"
            cfg.write_text(balancer_config(port, ports), encoding="utf-8")
            binary = "/usr/sbin/haproxy"
            roots["haproxy"] = [
                stack.enter_context(started([binary, "-db", "-f", str(cfg)], directory / "lb.log"))
            ]
            url = f"http://127.0.0.1:{port}/mcp"
            wait_serving(url, 1)
        yield Deployment(url, roots)


# -- measuring ----------------------------------------------------------------------------------


def role_of(role: str, pid: int) -> str:
    """Portal processes' children are the stdio upstreams."""
    if role == "portal" and "mcp-server-time" in loadgen.cmdline(pid):
        return "upstream"
    return role


def cpu_by_role(roots: dict[str, list[int]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for role, pids in roots.items():
        for root in pids:
            for pid in loadgen.descendants(root):
                key = role_of(role, pid)
                totals[key] = totals.get(key, 0.0) + loadgen.cpu_seconds(pid)
    return totals


@dataclass
class Point:
    layout: Layout
    concurrency: int
    outcome: Outcome
    cpu_pct: dict[str, float]
    """% of one core during the shot, per role (loadgen included)."""


def measure(deployment: Deployment, layout: Layout, concurrency: int, seconds: float) -> Point:
    shot = Shot(deployment.url, TOOL, ARGUMENTS, concurrency, seconds, MAX_REQUESTS)
    before = cpu_by_role(deployment.roots)
    outcome = loadgen.fire(shot)
    after = cpu_by_role(deployment.roots)
    wall = outcome.seconds or seconds
    # The shot starts START_MARGIN_S after `before`; idle processes add little meanwhile.
    cpu = {role: (after[role] - before.get(role, 0.0)) / wall * 100 for role in after}
    cpu["loadgen"] = outcome.cpu_s / wall * 100
    return Point(layout, concurrency, outcome, cpu)


def warm_up(url: str) -> None:
    loadgen.fire(Shot(url, TOOL, ARGUMENTS, 10, WARMUP_S, MAX_REQUESTS))


def run(
    layouts: tuple[Layout, ...], concurrencies: tuple[int, ...], seconds: float, use_pg: bool
) -> list[Point]:
    points: list[Point] = []
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        cluster = stack.enter_context(PgCluster.started()) if use_pg else None
        for index, layout in enumerate(layouts):
            directory = Path(tmp) / f"layout{index}"
            directory.mkdir()
            database_url = (
                cluster.new_database()
                if cluster is not None
                else f"sqlite+aiosqlite:///{directory / 'codemode.db'}"
            )
            with deploy(layout, directory, database_url) as deployment:
                if cluster is not None:
                    deployment.roots["postgres"] = [postmaster(cluster)]
                warm_up(deployment.url)
                for concurrency in concurrencies:
                    point = measure(deployment, layout, concurrency, seconds)
                    print(row(point), flush=True)
                    points.append(point)
    return points


def postmaster(cluster: PgCluster) -> int:
    return int((cluster.data / "postmaster.pid").read_text().split()[0])


# -- the report --------------------------------------------------------------------------------

ROLES = ("portal", "upstream", "haproxy", "postgres", "loadgen")


def row(p: Point) -> str:
    o = p.outcome
    cpu = " | ".join(f"{p.cpu_pct[r]:.0f}" if r in p.cpu_pct else "-" for r in ROLES)
    workers = ", ".join(f"{w}: {n}" for w, n in sorted(o.workers.items()))
    return (
        f"| {p.layout.name} | {p.concurrency} | {o.rate:.0f} | {o.percentile(50):.0f} "
        f"| {o.percentile(95):.0f} | {o.percentile(99):.0f} | {o.errors} | {cpu} | {workers} |"
    )


def best(points: list[Point], name: str) -> Point:
    return max((p for p in points if p.layout.name == name), key=lambda p: p.outcome.rate)


def render(points: list[Point], seconds: float, store: str, load_before: str) -> str:
    from benchmarks.scale_report import findings

    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = "| layout | connections | calls/s | p50 ms | p95 ms | p99 ms | errors | "
    head += " | ".join(f"CPU {r} %" for r in ROLES) + " | answered by worker |"
    return "\n".join(
        [
            "# Scale-out",
            "",
            f"{stamp}; {machine()}. Written by `python -m benchmarks.scale`.",
            "",
            "Direct calls of `time_get_current_time` (mcp-server-time over stdio, one per",
            "serving process) as stateless 2026-07-28 `tools/call` POSTs from 2 load-generator",
            f"processes (async httpx2), {seconds:g} s per row; store: {store}. CPU is % of one",
            "core over the row (portal: every serving process; upstream: their stdio children).",
            f"The machine was shared with other engineers' work: load average {load_before}",
            f"before the run, {loadgen.load_average()} after.",
            "",
            head,
            "|---|---:|---:|---:|---:|---:|---:|" + "---:|" * len(ROLES) + "---|",
            *[row(p) for p in points],
            "",
            *findings(points),
            "",
            "![calls/s per layout and connections](scale.png)",
            "",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="50 connections, 5 s per row")
    parser.add_argument("--seconds", type=float, default=12.0, help="per row (12)")
    parser.add_argument("--sqlite", action="store_true", help="SQLite (WAL), not PostgreSQL")
    parser.add_argument("--out", type=Path, default=RESULTS / "scale.md")
    args = parser.parse_args()
    concurrencies = (50,) if args.quick else (10, 50, 200)
    seconds = 5.0 if args.quick else args.seconds
    use_pg = not args.sqlite and pg_bin_dir() is not None
    store = "PostgreSQL (throwaway local cluster)" if use_pg else "SQLite file in WAL mode"
    load_before = loadgen.load_average()
    points = run(LAYOUTS, concurrencies, seconds, use_pg)
    from benchmarks.scale_report import plot

    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot(points, args.out.with_suffix(".png"))
    text = render(points, seconds, store, load_before)
    args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
