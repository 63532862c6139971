"""What a live config change costs: `Gateway.apply` adding and removing a stdio server.

    python -m benchmarks.apply

Rounds of: apply a config with one more server (the synchronous step: plan, hooks, portals;
the server connects in the background), wait for its first sync (a real process started,
initialized, listed), apply the config without it (returns once its process has ended).
The server is `tests/cli/tiny_upstream.py` (stdlib only, so its start-up is the process's,
not an SDK's). Writes benchmarks/results/apply.md.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import anyio

from benchmarks.sandbox import machine
from engine import Config, Gateway

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "apply.md"
TINY = ROOT / "tests" / "cli" / "tiny_upstream.py"
ROUNDS = 20


def config(directory: Path, *ids: str) -> Config:
    def server(sid: str) -> dict[str, Any]:
        args = ["-S", str(TINY), str(directory / f"{sid}.pid")]
        return {"id": sid, "command": sys.executable, "args": args}

    return Config.from_dict(
        {
            "servers": [server(sid) for sid in ids],
            "portals": [{"id": "main", "servers": [{"server_id": sid} for sid in ids]}],
            "settings": {"request_log_path": ":memory:"},
        }
    )


async def measure(directory: Path, rounds: int = ROUNDS) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {"apply (add)": [], "first sync": [], "apply (remove)": []}
    small, large = config(directory, "one"), config(directory, "one", "two")
    async with Gateway(small) as gateway:
        for _ in range(rounds):
            started = time.perf_counter()
            await gateway.apply(large)
            timings["apply (add)"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await gateway.catalog.wait_settled("two")
            timings["first sync"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await gateway.apply(small)
            timings["apply (remove)"].append(time.perf_counter() - started)
    return timings


def report(timings: dict[str, list[float]]) -> str:
    lines = [
        "# Applying a config live",
        "",
        f"Written by `python -m benchmarks.apply` on {machine()}; {ROUNDS} rounds.",
        "",
        "| step | median ms | max ms |",
        "|---|---:|---:|",
    ]
    for step, values in timings.items():
        ms = [v * 1000 for v in values]
        lines.append(f"| {step} | {statistics.median(ms):.1f} | {max(ms):.1f} |")
    lines += [
        "",
        "`apply (add)` is what a caller waits for; the server is Waiting meanwhile and turns",
        "Ready after `first sync`. `apply (remove)` includes the process's end.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        timings = anyio.run(measure, Path(directory))
    text = report(timings)
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
