"""DLP benchmark: detection, false positives and added latency of the predefined profiles.

    python -m benchmarks.dlp            # writes benchmarks/results/dlp.md
    python -m benchmarks.dlp --quick    # a small sample, printed only

The corpus (`benchmarks/dlp_corpus.py`) is generated from a seed: tool arguments carrying one
made-up secret of each detector's kind, or a test card number or IBAN, and benign arguments from
ordinary use. The detectors were tuned on seed 16; the figures here are from seed 2026. One
change followed the first run on seed 2026, which missed 4 of 100 AWS secret keys (those
starting or ending with `/` or `+`): so it is not a clean held-out figure, and the corpus
is ours, from the same generators as the tuning set, not independent data.

A sample counts as detected when the profile it is labelled with reports a finding in it; a
benign sample is a false positive when either profile reports anything. Latency is the time of
`Rules.check` on one call's arguments with both profiles (what `ToolCalls` adds before a call
leaves; a portal and server without `dlp_profiles` add nothing), on benign documents of each
size (code, issue text, commit messages, config: `argument_of_size`): wall-clock p50 and p95,
and CPU time p50 and per KB, which shows the growth is linear.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks.dlp_corpus import FINANCIAL, SECRETS, Sample, argument_of_size, benign, positives
from benchmarks.sandbox import machine
from engine import Config
from engine.dlp import MAX_SCAN_CHARS, DlpPolicy, Rules

RESULTS = Path(__file__).parent / "results" / "dlp.md"
SEED = 2026
PROFILES = (SECRETS, FINANCIAL)
SIZES_KB = (1, 4, 16, 64, 256, 1000)
DETECTION_TARGET = 0.99
FP_TARGET = 0.01
P50_TARGET_MS = 0.5


def rules(action: str = "log") -> Rules:
    config = Config.from_dict(
        {
            "servers": [{"id": "s", "url": "http://127.0.0.1:9/mcp"}],
            "portals": [
                {
                    "id": "p",
                    "servers": [{"server_id": "s"}],
                    "dlp_profiles": list(PROFILES),
                    "dlp_action": action,
                }
            ],
        }
    )
    return DlpPolicy(config).rules("p", "s")


def profiles_found(r: Rules, arguments: dict[str, Any]) -> set[str]:
    verdict = r.check(arguments, r.arguments, "", "the arguments")
    return {f.profile for f in verdict.findings}


@dataclass
class Evaluation:
    found: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    false_positives: Counter[str] = field(default_factory=Counter)
    benign_total: Counter[str] = field(default_factory=Counter)
    profile_of: dict[str, str] = field(default_factory=dict)

    def detection(self, profile: str | None = None) -> float:
        kinds = [k for k in self.total if profile is None or self.profile_of[k] == profile]
        total = sum(self.total[k] for k in kinds)
        return sum(self.found[k] for k in kinds) / total if total else 1.0

    def fp_rate(self) -> float:
        total = sum(self.benign_total.values())
        return sum(self.false_positives.values()) / total if total else 0.0


def evaluate(per_kind: int, benign_count: int, seed: int = SEED) -> Evaluation:
    rng = random.Random(seed)
    r = rules()
    out = Evaluation()
    samples: list[Sample] = positives(rng, per_kind)
    for sample in samples:
        assert sample.profile is not None
        out.total[sample.kind] += 1
        out.profile_of[sample.kind] = sample.profile
        if sample.profile in profiles_found(r, sample.arguments):
            out.found[sample.kind] += 1
    for sample in benign(rng, benign_count):
        out.benign_total[sample.kind] += 1
        if profiles_found(r, sample.arguments):
            out.false_positives[sample.kind] += 1
    return out


@dataclass(frozen=True)
class Timing:
    size_kb: int
    calls: int
    p50_ms: float
    p95_ms: float
    cpu_p50_ms: float
    """CPU time of the process per call: what the check costs, less the waits of a shared
    machine's scheduler that wall-clock figures carry."""

    @property
    def per_kb_ms(self) -> float:
        return self.cpu_p50_ms / self.size_kb


def latency(sizes_kb: tuple[int, ...] = SIZES_KB, budget_s: float = 2.0) -> list[Timing]:
    """p50/p95 of one check per size, each size given about `budget_s` of calls."""
    rng = random.Random(SEED)
    r = rules("block")
    out: list[Timing] = []
    for size in sizes_kb:
        args = [argument_of_size(rng, size * 1024) for _ in range(20)]
        r.check(args[0], r.arguments, "", "a")  # warm caches
        times: list[float] = []
        cpu: list[float] = []
        deadline = time.perf_counter() + budget_s
        while (len(times) < 20 or time.perf_counter() < deadline) and len(times) < 5000:
            value = args[len(times) % len(args)]
            started, started_cpu = time.perf_counter(), time.process_time()
            r.check(value, r.arguments, "", "a")
            cpu.append((time.process_time() - started_cpu) * 1000)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
        timing = Timing(size, len(times), statistics.median(times), p95, statistics.median(cpu))
        out.append(timing)
    return out


def linear(timings: list[Timing]) -> bool:
    """Cost per KB within a factor of 2 across sizes (1 KB carries the walk's fixed cost)."""
    per_kb = [t.per_kb_ms for t in timings if t.size_kb > 1] or [t.per_kb_ms for t in timings]
    return max(per_kb) <= 2 * min(per_kb)


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def report(ev: Evaluation, timings: list[Timing], load: str) -> str:
    lines = [
        "# DLP: detection, false positives, added latency",
        "",
        f"Written by `python -m benchmarks.dlp`; {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        f"{machine()}; load average {load} (the machine was shared).",
        "",
        __doc__.split("\n\n", 2)[2].strip() if __doc__ else "",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    det, fp = ev.detection(), ev.fp_rate()
    one_kb = next(t for t in timings if t.size_kb == 1)
    lines += [
        f"| detection >= 99% | {det:.2%} of {sum(ev.total.values()):,} | {_yes(det >= 0.99)} |",
        f"| false positives <= 1% | {fp:.2%} of {sum(ev.benign_total.values()):,} | "
        f"{_yes(fp <= FP_TARGET)} |",
        f"| added latency <= 0.5 ms p50, 1 KB argument | {one_kb.p50_ms:.3f} ms wall, "
        f"{one_kb.cpu_p50_ms:.3f} ms CPU | {_yes(one_kb.p50_ms <= P50_TARGET_MS)} |",
        f"| linear in size | CPU per KB {min(t.per_kb_ms for t in timings):.3f}–"
        f"{max(t.per_kb_ms for t in timings):.3f} ms from {timings[0].size_kb} to "
        f"{timings[-1].size_kb:,} KB | {_yes(linear(timings))} |",
        "",
        "## Detection by kind",
        "",
        "| profile | kind | samples | detected | rate |",
        "|---|---|---:|---:|---:|",
    ]
    for kind in sorted(ev.total, key=lambda k: (ev.profile_of[k], k)):
        rate = ev.found[kind] / ev.total[kind]
        lines.append(
            f"| {ev.profile_of[kind]} | {kind} | {ev.total[kind]} | {ev.found[kind]} | {rate:.1%} |"
        )
    for profile in PROFILES:
        lines.append(f"| **{profile}** | all | | | **{ev.detection(profile):.2%}** |")
    lines += [
        "",
        "## False positives by kind of benign argument",
        "",
        "| kind | samples | flagged |",
        "|---|---:|---:|",
    ]
    lines += [
        f"| {k} | {ev.benign_total[k]} | {ev.false_positives[k]} |" for k in sorted(ev.benign_total)
    ]
    lines += [
        "",
        "## Latency by argument size (both profiles, `Rules.check`)",
        "",
        "| size | calls | wall p50 ms | wall p95 ms | CPU p50 ms | CPU per KB (ms) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {t.size_kb:,} KB | {t.calls} | {t.p50_ms:.3f} | {t.p95_ms:.3f} | "
        f"{t.cpu_p50_ms:.3f} | {t.per_kb_ms:.4f} |"
        for t in timings
    ]
    lines += [
        "",
        f"Scanning stops at {MAX_SCAN_CHARS:,} characters per call (the 1,000 KB row is just "
        "under it); beyond, a profile that blocks or redacts refuses the call, one that logs "
        "lets it through and records it. Per-KB cost staying flat from 1 KB up is the "
        "linearity; the 1 KB figure carries the fixed cost of one walk.",
        "",
    ]
    return "\n".join(lines)


def load_average() -> str:
    try:
        with open("/proc/loadavg", encoding="utf-8") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="a small sample, printed only")
    quick = parser.parse_args().quick
    ev = evaluate(per_kind=5, benign_count=300) if quick else evaluate(100, 2000)
    timings = latency((1, 16), budget_s=0.5) if quick else latency()
    text = report(ev, timings, load_average())
    if quick:
        print(text)
        return
    RESULTS.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
