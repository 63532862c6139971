"""End-to-end overhead: the portal over HTTP against the same upstream called directly.

    python -m benchmarks.latency            # needs the `bench` extra (matplotlib)

Starts the demo upstream (tests/upstreams/demo.py: an `echo` tool behind bearer auth, over
streamable HTTP) and a portal in front of it (`codemode serve`, its own process), both on
127.0.0.1, and drives them with the `mcp` SDK's streamable-HTTP client:

- (a) one tool call through the portal's ALL surface, vs the upstream called directly;
- (b) `execute` of code making one call, vs one direct call;
- (c) `code` making 10 calls with `Promise.all`, vs 10 concurrent direct calls;
- (d) `code` making 10 sequential calls, vs 10 sequential direct calls;
- (e) one tool call through a second portal process with `[identity] provider = "dev"` and a
  portal access token (got through the dev sign-in flow), vs the same call through the open
  portal: what checking the token (and applying policies) adds.

Then, in this process, the CPU cost of the token check itself: `GrantStore.verify_access_token`
answered from its cache and from the database (SQLite in memory).

Portal and direct samples are interleaved so machine noise hits both alike. Then throughput:
1, 10 and 50 concurrent clients, each running `code` with 2 upstream calls a fixed number of
times; runs/s, p95, errors and the portal process's peak RSS (VmHWM, so a running maximum
over the process's life). Client, portal and upstream share this machine's cores.
Writes benchmarks/results/latency.md and latency.png.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from benchmarks.sandbox import machine
from engine.config import Settings
from engine.store import open_store
from tests.identity_flow.devflow import connect_client
from tests.upstreams.harness import RunningServer, demo_argv, running

RESULTS = Path(__file__).parent / "results"
TOKEN_ENV = "CODEMODE_BENCH_DEMO_TOKEN"
PORTAL = "bench"
CONCURRENCY = (1, 10, 50)
START_TIMEOUT_S = 60.0

ONE_CALL = "return await codemode.demo_echo({ value: 1 });"
PARALLEL_10 = (
    "return await Promise.all(\n"
    "  Array.from({ length: 10 }, (_, i) => codemode.demo_echo({ value: i })),\n"
    ");"
)
SEQUENTIAL_10 = (
    "const out = [];\n"
    "for (let i = 0; i < 10; i++) out.push(await codemode.demo_echo({ value: i }));\n"
    "return out;"
)
TWO_CALLS = (
    "const a = await codemode.demo_echo({ value: 1 });\n"
    "const b = await codemode.demo_echo({ value: 2 });\n"
    "return [a, b];"
)


class CallFailed(RuntimeError):
    """A benchmark call came back as an error; the figures would be meaningless."""


def config_toml(upstream_url: str) -> str:
    return f"""\
[[servers]]
id = "demo"
url = "{upstream_url}"
auth_type = "bearer"
bearer_token_env = "{TOKEN_ENV}"

[settings.sandbox]
max_calls = 100

[[portals]]
id = "{PORTAL}"
name = "Latency benchmark"

[[portals.servers]]
server_id = "demo"
"""


IDENTITY_TOML = """
[identity]
provider = "dev"

[[policies]]
id = "everyone"
decision = "allow"
include = [{ everyone = true }]
"""
"""Appended to `config_toml` (with the portal's and server's `policies`) for row (e)."""

BENCH_EMAIL = "bench@example.com"


def identity_config_toml(upstream_url: str) -> str:
    """`config_toml` behind the dev sign-in: the server and portal let everyone in."""
    text = config_toml(upstream_url)
    for line in (f'bearer_token_env = "{TOKEN_ENV}"\n', 'name = "Latency benchmark"\n'):
        text = text.replace(line, line + 'policies = ["everyone"]\n')
    # The default database: a SQLite file beside the config (a temporary directory).
    return text + IDENTITY_TOML


@contextmanager
def servers(token: str) -> Iterator[tuple[RunningServer, RunningServer, RunningServer]]:
    """The demo upstream, an open portal in front of it and one with the dev sign-in, each its
    own process."""
    with (
        running(demo_argv(), env={"DEMO_TOKEN": token}) as upstream,
        tempfile.TemporaryDirectory() as tmp,
    ):
        portals = []
        for name, text in (
            ("portal.toml", config_toml(upstream.url)),
            ("identity.toml", identity_config_toml(upstream.url)),
        ):
            config = Path(tmp) / name
            config.write_text(text, encoding="utf-8")
            argv = [sys.executable, "-m", "engine.cli", "serve", "--config", str(config)]
            portals.append([*argv, "--port", "{port}"])
        with (
            running(portals[0], env={TOKEN_ENV: token}) as portal,
            running(portals[1], env={TOKEN_ENV: token}) as identity_portal,
        ):
            yield upstream, portal, identity_portal


@asynccontextmanager
async def connect(url: str, token: str | None = None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    timeout = httpx2.Timeout(30.0, read=None)
    async with (
        httpx2.AsyncClient(headers=headers, timeout=timeout) as http,
        Client(streamable_http_client(url, http_client=http), mode="auto") as client,
    ):
        await list_all_tools(client)
        yield client


MAX_PAGES = 100


async def list_all_tools(client: Client) -> list[str]:
    """List every page first, as clients do: the SDK validates a call's result against the
    tool's listed output schema, and re-lists on every call to a tool it has not seen."""
    names: list[str] = []
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        page = await client.list_tools(cursor=cursor)
        names += [t.name for t in page.tools]
        cursor = page.next_cursor
        if cursor is None:
            return names
    raise RuntimeError(f"tools/list did not end within {MAX_PAGES} pages")


async def wait_ready(url: str, token: str | None = None) -> None:
    """The portal accepts connections before its upstream is connected: poll until it lists
    the upstream's tools."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        try:
            async with connect(url, token) as client:
                if "demo_echo" in await list_all_tools(client):
                    return
        except Exception:  # not serving yet
            if time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not list demo_echo within {START_TIMEOUT_S} s")
        await anyio.sleep(0.2)


async def wait_for_authorization_server(origin: str) -> None:
    """Until the portal's authorization server answers (its store is opened at start-up)."""
    url = f"{origin}/.well-known/oauth-authorization-server/p/{PORTAL}"
    deadline = time.monotonic() + START_TIMEOUT_S
    async with httpx2.AsyncClient() as http:
        while True:
            try:
                if (await http.get(url)).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"{url} did not answer within {START_TIMEOUT_S} s")
            await anyio.sleep(0.2)


def checked(result: CallToolResult) -> CallToolResult:
    if result.is_error:
        raise CallFailed(str(result.content)[:500])
    return result


# -- measurements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    p50: float
    p95: float
    p99: float

    @classmethod
    def of(cls, samples: Sequence[float]) -> Stats:
        cuts = statistics.quantiles(samples, n=100, method="inclusive")
        return cls(statistics.median(samples), cuts[94], cuts[98])


@dataclass(frozen=True)
class Scenario:
    name: str
    portal: Stats
    direct: Stats
    target: str
    limit_ms: float | None

    @property
    def added_p50(self) -> float:
        return self.portal.p50 - self.direct.p50

    @property
    def met(self) -> bool | None:
        return None if self.limit_ms is None else self.added_p50 < self.limit_ms


Op = Callable[[], Awaitable[Any]]


async def timed_ms(op: Op) -> float:
    started = time.perf_counter()
    await op()
    return (time.perf_counter() - started) * 1000


async def interleaved(portal: Op, direct: Op, samples: int, warmup: int) -> tuple[Stats, Stats]:
    for _ in range(warmup):
        await portal()
        await direct()
    p, d = [], []
    for _ in range(samples):
        p.append(await timed_ms(portal))
        d.append(await timed_ms(direct))
    return Stats.of(p), Stats.of(d)


async def scenarios(
    base: str,
    upstream_url: str,
    token: str,
    samples: int,
    identity: tuple[str, str],
    only: str | None = None,
) -> list[Scenario]:
    """The rows (0) to (e), or only those whose name starts with `only`."""
    identity_url, access_token = identity
    async with (
        connect(upstream_url, token) as up,
        connect(base) as all_,
        connect(identity_url, access_token) as signed_in,
        connect(f"{base}?optimize_context=search_and_execute") as sae,
        connect(f"{base}?codemode=search_and_execute") as code,
        httpx2.AsyncClient() as http,
    ):
        portal_root, upstream_root = base.split("/p/", 1)[0], upstream_url.removesuffix("/mcp")

        def get(url: str) -> Op:
            async def op() -> None:
                (await http.get(url)).raise_for_status()

            return op

        async def direct_one() -> None:
            checked(await up.call_tool("echo", {"value": 1}))

        async def direct_echo(i: int) -> None:
            checked(await up.call_tool("echo", {"value": i}))

        async def direct_parallel() -> None:
            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(direct_echo, i)

        async def direct_sequential() -> None:
            for i in range(10):
                checked(await up.call_tool("echo", {"value": i}))

        def run(client: Client, tool: str, args: dict[str, Any]) -> Op:
            async def op() -> None:
                checked(await client.call_tool(tool, args))

            return op

        plan: list[tuple[str, Op, Op, str, float | None]] = [
            (
                "(0) plain HTTP GET, no MCP: portal `/` vs upstream `/health`",
                get(f"{portal_root}/"),
                get(f"{upstream_root}/health"),
                "- (the HTTP floor)",
                None,
            ),
            (
                "(a) one call via ALL",
                run(all_, "demo_echo", {"value": 1}),
                direct_one,
                "adds < 1.5 ms at p50",
                1.5,
            ),
            (
                "(b) `execute`, code making 1 call",
                run(sae, "execute", {"code": ONE_CALL}),
                direct_one,
                "adds < 3 ms at p50",
                3.0,
            ),
            (
                "(c) `code`, 10 calls with Promise.all",
                run(code, "code", {"code": PARALLEL_10}),
                direct_parallel,
                "-",
                None,
            ),
            (
                "(d) `code`, 10 sequential calls",
                run(code, "code", {"code": SEQUENTIAL_10}),
                direct_sequential,
                "-",
                None,
            ),
            (
                "(e) one call via ALL with a portal access token (dev sign-in) vs the open "
                'portal ("direct" columns)',
                run(signed_in, "demo_echo", {"value": 1}),
                run(all_, "demo_echo", {"value": 1}),
                "token checking adds < 0.3 ms at p50",
                0.3,
            ),
        ]
        out = []
        for name, portal_op, direct_op, target, limit in plan:
            if only is not None and not name.startswith(only):
                continue
            p, d = await interleaved(portal_op, direct_op, samples, warmup=max(10, samples // 10))
            out.append(Scenario(name, p, d, target, limit))
        return out


@dataclass(frozen=True)
class Load:
    clients: int
    runs: int
    seconds: float
    p95: float
    errors: int
    peak_rss_mb: float
    client_cpu: float
    """CPU the load generator (this process) used over the run, as a share of one core: near
    1.0 it, not the portal, would be the bottleneck."""

    @property
    def runs_per_s(self) -> float:
        return self.runs / self.seconds


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set so far (VmHWM), from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM in /proc/{pid}/status")


async def load(url: str, clients: int, runs_each: int, pid: int) -> Load:
    latencies: list[float] = []
    errors = 0

    async def client_loop(client: Client) -> None:
        nonlocal errors
        for _ in range(runs_each):
            started = time.perf_counter()
            try:
                result = await client.call_tool("code", {"code": TWO_CALLS})
                errors += bool(result.is_error)
            except Exception:
                errors += 1
            latencies.append((time.perf_counter() - started) * 1000)

    async with _clients(url, clients) as sessions:
        started, cpu_started = time.perf_counter(), time.process_time()
        async with anyio.create_task_group() as tg:
            for client in sessions:
                tg.start_soon(client_loop, client)
        seconds = time.perf_counter() - started
        cpu = (time.process_time() - cpu_started) / seconds
    p95 = Stats.of(latencies).p95
    return Load(clients, len(latencies), seconds, p95, errors, peak_rss_mb(pid), cpu)


@asynccontextmanager
async def _clients(url: str, count: int) -> AsyncIterator[list[Client]]:
    """`count` open sessions (opened before the clock starts)."""
    async with AsyncExitStack() as stack:
        yield [await stack.enter_async_context(connect(url)) for _ in range(count)]


# -- the token check in-process -----------------------------------------------------------------


@dataclass(frozen=True)
class TokenCheck:
    name: str
    calls: int
    wall_us: Stats
    cpu_us_mean: float


async def token_check(calls: int) -> list[TokenCheck]:
    """`verify_access_token` of one valid token, `calls` times: answered from the in-process
    cache (the request path within 1 s of a check), and from the database every time (a cache
    of 0 s; a SQLite file, as by default). Wall time per call (quantiles) and CPU time (mean,
    all of this process's threads: aiosqlite reads in one)."""
    out = []
    for name, cache_ttl_s in (("cached", None), ("uncached (database read)", 0.0)):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp}/codemode.db")
            out.append(await _token_check(name, settings, cache_ttl_s, calls))
    return out


async def _token_check(
    name: str, settings: Settings, cache_ttl_s: float | None, calls: int
) -> TokenCheck:
    resource = "http://127.0.0.1/mcp"
    async with open_store(settings, environ={}, cache_ttl_s=cache_ttl_s) as store:
        person = await store.people.sign_in("bench", "sub", email=BENCH_EMAIL)
        client_id = "bench-client"
        await store.grants.register_client(client_id, {"client_name": "bench"})
        code = await store.grants.save_authorization_code(
            client_id=client_id,
            person_id=person.id,
            resource=resource,
            scopes=["mcp"],
            redirect_uri="http://127.0.0.1:9/callback",
            redirect_uri_provided_explicitly=True,
            code_challenge="x" * 43,
        )
        pair = await store.grants.exchange_authorization_code(code.code, client_id)
        assert pair is not None
        verify = store.grants.verify_access_token
        for _ in range(200):
            assert await verify(pair.access_token) is not None
        samples = []
        cpu_started = time.process_time()
        for _ in range(calls):
            started = time.perf_counter()
            await verify(pair.access_token, resource=resource)
            samples.append((time.perf_counter() - started) * 1e6)
        cpu = (time.process_time() - cpu_started) / calls * 1e6
    return TokenCheck(name, calls, Stats.of(samples), cpu)


def token_check_table(rows: Sequence[TokenCheck]) -> str:
    out = [
        "| `verify_access_token` | calls | wall p50 (µs) | p95 | p99 | CPU per call (µs, mean) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    out += [
        f"| {r.name} | {r.calls} | {r.wall_us.p50:.1f} | {r.wall_us.p95:.1f} "
        f"| {r.wall_us.p99:.1f} | {r.cpu_us_mean:.1f} |"
        for r in rows
    ]
    return "\n".join(out)


# -- report -------------------------------------------------------------------------------------


def latency_table(rows: Sequence[Scenario]) -> str:
    out = [
        "| scenario | portal p50 | p95 | p99 | direct p50 | p95 | p99 | added at p50 "
        "| target | met |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in rows:
        met = "-" if r.met is None else ("yes" if r.met else "**no**")
        out.append(
            f"| {r.name} | {r.portal.p50:.2f} | {r.portal.p95:.2f} | {r.portal.p99:.2f} "
            f"| {r.direct.p50:.2f} | {r.direct.p95:.2f} | {r.direct.p99:.2f} "
            f"| {r.added_p50:+.2f} | {r.target} | {met} |"
        )
    return "\n".join(out)


def load_table(rows: Sequence[Load]) -> str:
    out = [
        "| concurrent clients | runs | runs/s | p95 (ms) | errors | portal peak RSS so far "
        "| load generator CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    out += [
        f"| {r.clients} | {r.runs} | {r.runs_per_s:.1f} | {r.p95:.1f} "
        f"| {r.errors}{'' if r.errors == 0 else ' (**must be 0**)'} | {r.peak_rss_mb:.0f} MB "
        f"| {r.client_cpu:.0%} of a core |"
        for r in rows
    ]
    return "\n".join(out)


def plot(rows: Sequence[Scenario], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    xs = range(len(rows))
    width = 0.38
    sides: list[tuple[float, str, list[Stats]]] = [
        (-width / 2, "direct", [r.direct for r in rows]),
        (width / 2, "through the portal", [r.portal for r in rows]),
    ]
    for offset, label, stats in sides:
        p50 = [s.p50 for s in stats]
        p95 = [s.p95 - s.p50 for s in stats]
        ax.bar(
            [x + offset for x in xs],
            p50,
            width,
            yerr=[[0] * len(rows), p95],
            capsize=3,
            label=f"{label} (p50, bar to p95)",
        )
    ax.set_xticks(list(xs), [r.name.split(" ", 1)[0] for r in rows])
    ax.set_ylabel("ms per request")
    ax.set_title("Portal over HTTP vs the upstream called directly")
    ax.legend()
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


async def measure(
    samples: int,
    runs_each: int,
    concurrency: Sequence[int] = CONCURRENCY,
    only: str | None = None,
) -> tuple[list[Scenario], list[Load]]:
    token = "bench-" + uuid.uuid4().hex
    with servers(token) as (upstream, portal, identity_portal):
        base = f"{portal.base}/p/{PORTAL}/mcp"
        await wait_ready(base)
        await wait_for_authorization_server(identity_portal.base)
        tokens = await connect_client(identity_portal.base, BENCH_EMAIL, portal=f"/p/{PORTAL}")
        await wait_ready(tokens.resource, tokens.access_token)
        assert portal.process is not None
        identity = (tokens.resource, tokens.access_token)
        rows = await scenarios(base, upstream.url, token, samples, identity, only)
        code_url = f"{base}?codemode=search_and_execute"
        loads = [await load(code_url, c, runs_each, portal.process.pid) for c in concurrency]
    return rows, loads


def render(rows: Sequence[Scenario], loads: Sequence[Load], samples: int, runs_each: int) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            "# End-to-end overhead",
            "",
            f"{stamp}; {machine()}. Written by `python -m benchmarks.latency`.",
            "",
            "The portal (`codemode serve`, own process) in front of the demo upstream (own",
            "process, streamable HTTP, bearer auth), against that upstream called directly; both",
            f"through the `mcp` SDK's streamable-HTTP client on 127.0.0.1. {samples} samples per",
            "scenario, portal and direct interleaved. Milliseconds. Client, portal and upstream",
            "share the machine's cores.",
            "",
            latency_table(rows),
            "",
            "Row (0) is each server process's per-request floor with no MCP work at all: what it",
            "adds is HTTP serving, not the engine.",
            "",
            f"Throughput: each client runs `code` with 2 upstream calls {runs_each} times.",
            "",
            load_table(loads),
            "",
            "![latency](latency.png)",
            "",
        ]
    )


IDENTITY_HEADING = "## Token checking"


def render_identity(row: Scenario, checks: Sequence[TokenCheck], samples: int) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return "\n".join(
        [
            IDENTITY_HEADING,
            "",
            f"{stamp}; {machine()}; load average {os.getloadavg()[0]:.1f} at the end. Written",
            "by `python -m benchmarks.latency` (alone: `--identity-only`).",
            "",
            'Row (e): a second portal process, the same config plus `[identity] provider = "dev"`',
            "and a policy letting everyone in, called with a portal access token got through the",
            "dev sign-in flow (register, PKCE, Allow); against the open portal, interleaved,",
            f"{samples} samples. The difference is the bearer check and the policies.",
            "",
            latency_table([row]),
            "",
            "The token check alone, in-process (a SQLite file), wall time per call and CPU:",
            "",
            token_check_table(checks),
            "",
        ]
    )


def write_identity_section(section: str) -> None:
    """Replace (or add) the token-checking section of latency.md, keeping the rest."""
    path = RESULTS / "latency.md"
    text = path.read_text() if path.exists() else ""
    kept = text.split(IDENTITY_HEADING, 1)[0].rstrip("\n")
    path.write_text(f"{kept}\n\n{section}" if kept else section)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--runs", type=int, default=20, help="code runs per client under load")
    parser.add_argument(
        "--identity-only",
        action="store_true",
        help="measure only row (e) and the token check; rewrite only their section",
    )
    parser.add_argument("--checks", type=int, default=20000, help="token checks in-process")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.identity_only:
        rows, _ = anyio.run(measure, args.samples, args.runs, (), "(e)")
    else:
        rows, loads = anyio.run(measure, args.samples, args.runs)
        text = render(
            [r for r in rows if not r.name.startswith("(e)")], loads, args.samples, args.runs
        )
        (RESULTS / "latency.md").write_text(text)
        plot(rows, RESULTS / "latency.png")
        print(text)
    checks = anyio.run(token_check, args.checks)
    (identity_row,) = [r for r in rows if r.name.startswith("(e)")]
    section = render_identity(identity_row, checks, args.samples)
    write_identity_section(section)
    print(section)


if __name__ == "__main__":
    main()
