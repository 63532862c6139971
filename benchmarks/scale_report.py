"""The scaling benchmark's conclusions and plot, from its measured points."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmarks.scale import Point

TARGET = 1.6
SATURATED_PCT = 85.0
"""A process (or role) above this % of one core is taken to be its own bottleneck."""


def _best(points: Sequence[Point], name: str) -> Point | None:
    mine = [p for p in points if p.layout.name == name]
    return max(mine, key=lambda p: p.outcome.rate) if mine else None


def _per_process(p: Point, role: str) -> float:
    """CPU % of the role per process of it (portal: per serving process)."""
    count = p.layout.processes if role in ("portal", "upstream") else 1
    return p.cpu_pct.get(role, 0.0) / count


def bottleneck(p: Point) -> str:
    total = sum(p.cpu_pct.values())
    cores = os.cpu_count() or 1
    busy = [r for r in ("portal", "upstream", "loadgen") if _per_process(p, r) >= SATURATED_PCT]
    parts = [f"all measured processes together use {total:.0f}% of {cores * 100}%"]
    if busy:
        parts.append("saturated: " + ", ".join(busy))
    if total >= cores * 100 * 0.85:
        parts.append("the machine's cores are the ceiling")
    return "; ".join(parts)


def _factor(points: Sequence[Point], one: str, two: str) -> str:
    a, b = _best(points, one), _best(points, two)
    if a is None or b is None or not a.outcome.rate:
        return f"{two} vs {one}: not measured."
    factor = b.outcome.rate / a.outcome.rate
    verdict = "met" if factor >= TARGET else "**not met**"
    return (
        f"- **{two} vs {one}: {factor:.2f}x** (best rows: {b.outcome.rate:.0f} vs "
        f"{a.outcome.rate:.0f} calls/s; target {TARGET}x: {verdict}). {one} at its best: "
        f"{bottleneck(a)}. {two} at its best: {bottleneck(b)}."
    )


def findings(points: Sequence[Point]) -> list[str]:
    errors = sum(p.outcome.errors for p in points)
    samples = [
        f"{p.layout.name} at {p.concurrency}: {s}" for p in points for s in p.outcome.error_samples
    ]
    lines = [
        f"- Errors over all rows: {errors} (target 0)."
        + (f" For example: {'; '.join(samples[:3])}." if samples else ""),
        _factor(points, "1 worker", "2 workers"),
        _factor(points, "1 replica + HAProxy", "2 replicas + HAProxy"),
    ]
    one = _best(points, "1 worker")
    if one is not None and one.cpu_pct.get("portal"):
        portal_core = one.outcome.rate / (one.cpu_pct["portal"] / 100)
        upstream = one.cpu_pct.get("upstream", 0.0) / 100
        whole = one.outcome.rate / ((one.cpu_pct["portal"] / 100) + upstream)
        lines.append(
            f"- Sizing: one portal core serves about **{portal_core:.0f} direct calls/s** "
            f"(portal CPU alone); counting its stdio upstream too, about {whole:.0f} calls/s "
            "per core. Plan one worker per core left over after the upstreams, the balancer "
            "and the database, and measure with your own upstreams: a slower upstream "
            "lowers the call rate, not the portal's cost per call."
        )
    lines += contention(points)
    lines.append(
        "- On this 2-core machine the load generator, the upstreams and the portal share "
        "the same two cores, so 2 workers cannot get a core each: the scaling factor here is "
        "a lower bound of what 2 workers give on a host where clients and upstreams run "
        "elsewhere."
    )
    return lines


def contention(points: Sequence[Point]) -> list[str]:
    """Whether the measured processes could use the machine at all."""
    cores = (os.cpu_count() or 1) * 100
    most = max((sum(p.cpu_pct.values()) for p in points), default=0.0)
    if most >= cores * 0.85:
        return []
    return [
        f"- At most {most:.0f}% of {cores}% went to the measured processes in any row, and no "
        "serving process reached one core, yet more connections brought no more calls/s: the "
        "rest of the CPU went to other work on the machine (see the load average above). "
        "These rows measure the share of a contended machine the benchmark got; the portal's "
        "own ceiling is the sizing figure, from CPU time per call."
    ]


def plot(points: Sequence[Point], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    names = list(dict.fromkeys(p.layout.name for p in points))
    for name in names:
        mine = [p for p in points if p.layout.name == name]
        ax.plot(
            [p.concurrency for p in mine], [p.outcome.rate for p in mine], marker="o", label=name
        )
    ax.set_xscale("log")
    ax.set_xticks(sorted({p.concurrency for p in points}))
    ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.set_xlabel("concurrent connections")
    ax.set_ylabel("direct calls/s")
    ax.set_title("Direct-call throughput, 2-core machine (shared)")
    ax.set_ylim(bottom=0)
    ax.legend()
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
