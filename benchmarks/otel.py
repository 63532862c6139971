"""What OpenTelemetry export costs: start-up and per call, off (the default) and on.

    python -m benchmarks.otel           # writes benchmarks/results/otel.md

Start-up: wall time of `telemetry.start()` in a fresh interpreter that has imported the engine,
median of `STARTS` runs each way (on: the SDK and the OTLP/HTTP exporters are imported and set
up). Hooks: the CPU time per upstream call of what telemetry adds on the call path (span,
attributes, log record, traceparent header): median of `HOOK_ROUNDS` rounds of `HOOK_LOOPS`,
exported between rounds. End to end: in a child
process per setting, a gateway in front of the demo upstream over stdio
(tests/upstreams/demo.py); `CALLS` direct `echo` calls through the ALL surface and `RUNS`
`code` runs of two calls each, after a warm-up; p50 and p95. On: spans and log records go to a
real OTLP/HTTP receiver in the same process (tests/egress/otlp_receiver.py), exported by the
SDK's batch processors in their threads. Off and on alternate `ROUNDS` times so machine noise
hits both alike.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.sandbox import machine
from engine.requestlog import RequestLog, RequestRecord

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "otel.md"
STARTS = 5
CALLS = 200
RUNS = 60
WARMUP = 20
ROUNDS = 2
HOOK_LOOPS = 1_000
HOOK_ROUNDS = 7
_START_PROBE = (
    "import time\nimport engine.gateway\nfrom engine import telemetry\n"
    "began = time.perf_counter()\ntelemetry.start()\n"
    "print((time.perf_counter() - began) * 1000)\n"
)


def _env(on: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    env["PYTHONPATH"] = str(REPO)
    if on:
        # Nothing listens there: start-up does not wait on the collector.
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:9"
    return env


def startup_ms(on: bool) -> float:
    """Median wall time of `telemetry.start()` in a fresh interpreter (engine imported first)."""
    samples = []
    for _ in range(STARTS):
        out = subprocess.run(
            [sys.executable, "-c", _START_PROBE],
            env=_env(on),
            check=True,
            capture_output=True,
            text=True,
        )
        samples.append(float(out.stdout.strip()))
    return statistics.median(samples)


async def _hooks_us() -> float:
    """CPU cost per upstream call of what telemetry adds on the call path: the span, its
    attributes, the log record and the traceparent header (the request log's own write is
    the same either way and left out)."""
    import httpx2

    from engine import telemetry
    from engine.requestlog import RequestRecord

    record = RequestRecord(
        portal="p", kind="tool_call", status="ok", capability="s_t", duration_ms=1.0, server="s"
    )
    sink = telemetry.with_export(_Nowhere())
    request = httpx2.Request("POST", "http://127.0.0.1/mcp")
    hooks = telemetry.request_hooks()

    async def one() -> None:
        with telemetry.span("upstream tools/call s/t"):
            for hook in hooks:
                await hook(request)
            telemetry.annotate(record)
            sink.record(record)

    samples = []
    for _ in range(HOOK_ROUNDS):
        began = time.perf_counter()
        for _ in range(HOOK_LOOPS):
            await one()
        samples.append((time.perf_counter() - began) / HOOK_LOOPS * 1e6)
        if telemetry.enabled():
            # Export between rounds: the batch queues (2,048) must not overflow, or the
            # SDK's per-item "queue full" warnings are what gets measured.
            from engine import telemetry_sdk

            telemetry_sdk.flush()
    return statistics.median(samples)


async def _per_call(on: bool) -> dict[str, float]:
    from contextlib import ExitStack

    from engine import Config, Gateway
    from engine.surfaces import Surface
    from tests.egress.otlp_receiver import otlp_receiver

    with ExitStack() as stack:
        if on:
            endpoint, _ = stack.enter_context(otlp_receiver())
            os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        config = Config.from_dict(
            {
                "servers": [
                    {
                        "id": "demo",
                        "command": sys.executable,
                        "args": ["-m", "tests.upstreams.demo", "--stdio"],
                    }
                ],
                "portals": [{"id": "bench", "servers": [{"server_id": "demo"}]}],
                "settings": {"request_log_path": ":memory:"},
            }
        )
        async with Gateway(config) as gateway:
            portal = gateway.portal("bench")
            two = "await codemode.demo_echo({value: 1}); await codemode.demo_echo({value: 2});"
            code = {"code": two + " return 2;"}

            async def direct() -> None:
                result = await portal.call_tool(Surface.ALL, "demo_echo", {"value": 1}, user="b")
                assert not result.is_error, result

            async def run() -> None:
                result = await portal.call_tool(Surface.CODEMODE, "code", code, user="b")
                assert not result.is_error, result

            for _ in range(WARMUP):
                await direct()
                await run()
            calls = await _timed(direct, CALLS)
            runs = await _timed(run, RUNS)
            hooks = await _hooks_us()
    return {
        "hooks_us": hooks,
        "call_p50": statistics.median(calls),
        "call_p95": statistics.quantiles(calls, n=20)[-1],
        "run_p50": statistics.median(runs),
        "run_p95": statistics.quantiles(runs, n=20)[-1],
    }


class _Nowhere(RequestLog):
    def record(self, entry: RequestRecord) -> None:
        pass

    def query(self, **_: Any) -> list[RequestRecord]:
        return []

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass


async def _timed(action: Any, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        began = time.perf_counter()
        await action()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def per_call(on: bool) -> dict[str, float]:
    probe = [sys.executable, "-m", "benchmarks.otel", "--child", "on" if on else "off"]
    out = subprocess.run(probe, env=_env(False), check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return figures


def hooks_without_export_us() -> float:
    """The call-path hooks with both exporters `none`: making spans and records, no export."""
    env = {**_env(False), "OTEL_TRACES_EXPORTER": "none", "OTEL_LOGS_EXPORTER": "none"}
    probe = [sys.executable, "-m", "benchmarks.otel", "--hooks"]
    out = subprocess.run(probe, env=env, check=True, capture_output=True, text=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        import anyio

        print(json.dumps(anyio.run(_per_call, sys.argv[2] == "on")))
        return
    if sys.argv[1:] == ["--hooks"]:
        import anyio

        from engine import telemetry

        telemetry.start()
        print(anyio.run(_hooks_us))
        return
    starts: dict[bool, list[float]] = {False: [], True: []}
    calls: dict[bool, list[dict[str, float]]] = {False: [], True: []}
    for _ in range(ROUNDS):
        for on in (False, True):
            starts[on].append(startup_ms(on))
            calls[on].append(per_call(on))
        calls[True][-1]["hooks_none_us"] = hooks_without_export_us()
        calls[False][-1]["hooks_none_us"] = calls[False][-1]["hooks_us"]
    RESULTS.write_text(_report(starts, calls))
    print(RESULTS.read_text())


def _report(starts: dict[bool, list[float]], calls: dict[bool, list[dict[str, float]]]) -> str:
    def mid(on: bool, key: str) -> float:
        return statistics.median(c[key] for c in calls[on])

    rows = [
        ("`telemetry.start()` in a fresh process (SDK import and set-up), ms", "start", 1),
        (
            "added on the call path per upstream call (span, attributes, log record, header), µs",
            "hooks_us",
            1,
        ),
        ("... of which making spans and records (exporters `none`), µs", "hooks_none_us", 1),
        ("direct `echo` call p50, ms", "call_p50", 3),
        ("direct `echo` call p95, ms", "call_p95", 3),
        ("`code` run with 2 calls p50, ms", "run_p50", 3),
        ("`code` run with 2 calls p95, ms", "run_p95", 3),
    ]
    lines = [
        "# OpenTelemetry export: what it costs",
        "",
        f"`python -m benchmarks.otel` on {machine()}; {ROUNDS} alternating rounds each way,",
        f"medians of rounds; start-up median of {STARTS} runs per round; {CALLS} direct calls",
        f"and {RUNS} `code` runs per round after {WARMUP} warm-up each, stdio demo upstream.",
        "On: OTLP/HTTP export to a receiver in the same process (batch processors).",
        f"Load average at the end: {os.getloadavg()[0]:.1f} (a shared machine: figures move"
        " with it).",
        "",
        "| | off (default) | on | on − off |",
        "|---|---|---|---|",
    ]
    for label, key, digits in rows:
        if key == "start":
            off, on = statistics.median(starts[False]), statistics.median(starts[True])
        else:
            off, on = mid(False, key), mid(True, key)
        lines.append(f"| {label} | {off:.{digits}f} | {on:.{digits}f} | {on - off:+.{digits}f} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
