"""Tool-search quality: does `query` / `codemode.search` put the right tool first?

    python -m benchmarks.search

The labelled set (benchmarks/tasks.json) pairs requests phrased the way people ask ("show me
the last three commits") with the real tool that does it, at least three per tool for all 51
tools of the recorded real servers. They are searched in the real catalog alone and mixed into
the 1,000-tool synthetic catalog (benchmarks/catalogs.py) as distractors.

The set is split into a dev half and a held-out test half (the `split` field, made once by
`assign_halves`: per server, tasks ordered by the SHA-256 of their text, alternately dev and
test, so every server is in both halves). Ranker changes are made looking at dev misses only;
the test half is the honest figure, and this report lists only the dev misses.

Rankers: `query` and the substring baseline (benchmarks/ranking.py), and `codemode.search` in
the sandbox: every task run through the real QuickJS sandbox via `engine.executor.CodeExecutor`,
its declarations parsed back into tool names, and checked to be the same ranking as `query`.

This is set (1). Sets (2) and (3), an external labelled set searched alone and among the
synthetic distractors, are measured by benchmarks/search_external.py and reported in the same
file.

Writes benchmarks/results/search.md and search.png.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
from mcp_types import CallToolResult

from benchmarks import search_external
from benchmarks.catalogs import merged, portal_view, real_catalog, synthetic_catalog
from benchmarks.ranking import (
    BASELINE,
    QUERY,
    Ranker,
    Score,
    met,
    query_ranker,
    rank_of,
    substring_ranker,
)
from benchmarks.sandbox import machine
from engine.calls import Caller
from engine.curation import CuratedTool
from engine.executor import CodeExecutor
from engine.search import ToolIndex
from engine.validation import ArgumentValidator
from engine.view import DEFAULT_SEARCH_LIMIT, PortalView
from sandbox import Limits, Sandbox
from stubs import count_tokens

TASKS = Path(__file__).parent / "tasks.json"
RESULTS = Path(__file__).parent / "results" / "search.md"
PLOT = RESULTS.with_suffix(".png")
DISTRACTORS = 1000
TARGET_RECALL_AT_3 = 0.9
TARGET_RECALL_AT_1 = 0.75
SANDBOX_LIMIT = 10
"""Matches per `codemode.search` call in the sandbox run (its MRR is therefore MRR@10)."""
HALVES = ("dev", "test")
TARGET_BUILD_MS = 100.0
TARGET_QUERY_MS = 5.0
TIMING_ROUNDS = 5


@dataclass(frozen=True)
class Task:
    task: str
    tool: str
    also: tuple[str, ...] = ()
    half: str = "dev"
    """`dev` (looked at while tuning the ranker) or `test` (held out)."""

    @property
    def server(self) -> str:
        return self.tool.split("_", 1)[0]

    @property
    def accepted(self) -> frozenset[str]:
        return frozenset((self.tool, *self.also))


class TaskSetError(ValueError):
    """tasks.json lacks a split or names a tool the real catalog does not have."""


def load_tasks(path: Path = TASKS) -> list[Task]:
    data: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    bad = [d["task"] for d in data if d.get("split") not in HALVES]
    if bad:
        raise TaskSetError(f"tasks without a split of {HALVES}: {bad[:3]}")
    return [Task(d["task"], d["tool"], tuple(d.get("also", ())), d["split"]) for d in data]


def assign_halves(tasks: Sequence[Task]) -> dict[str, str]:
    """The rule the recorded split was made with: per server, tasks in the order of the
    SHA-256 of their text, alternately dev and test. Independent of file order and of the
    ranker, and every server lands in both halves."""
    by_server: dict[str, list[str]] = {}
    for task in tasks:
        by_server.setdefault(task.server, []).append(task.task)
    halves: dict[str, str] = {}
    for texts in by_server.values():
        ordered = sorted(texts, key=lambda t: hashlib.sha256(t.encode()).hexdigest())
        for i, text in enumerate(ordered):
            halves[text] = HALVES[i % 2]
    return halves


def check_tasks(tasks: Sequence[Task], view: PortalView) -> None:
    known = {t.name for t in view.tools}
    unknown = sorted({name for t in tasks for name in t.accepted} - known)
    if unknown:
        raise TaskSetError(f"tasks.json names tools not in the catalog: {', '.join(unknown)}")


def score(name: str, ranker: Ranker, tasks: Sequence[Task]) -> tuple[Score, list[list[str]]]:
    result, rankings = Score(name), []
    for task in tasks:
        ranking = ranker(task.task)
        rankings.append(ranking)
        result.ranks.append(rank_of(ranking, task.accepted))
    return result, rankings


# -- codemode.search inside the sandbox ---------------------------------------------------------

_METHOD = re.compile(r'^  (?:"((?:[^"\\]|\\.)+)"|([A-Za-z_$][\w$]*))\(', re.MULTILINE)


def declared_names(declarations: str, view: PortalView) -> list[str]:
    """Client-visible names of the tools in a `codemode.search` answer, in order."""
    block = declarations.split("declare const codemode: {", 1)[-1]
    js_names = [quoted or bare for quoted, bare in _METHOD.findall(block)]
    return [view.by_js_name[n].name for n in js_names if n in view.by_js_name]


async def sandbox_search(view: PortalView, queries: Sequence[str], limit: int) -> list[str]:
    """Run every query through `codemode.search` in one real sandbox run; the raw answers."""

    class NoUpstream:
        async def call(
            self, caller: Caller, tool: CuratedTool, arguments: dict[str, Any]
        ) -> CallToolResult:
            raise AssertionError(f"search must not call an upstream (called {tool.name})")

    limits = Limits(max_calls=len(queries) + 1, max_result_bytes=64 * 1024 * 1024)
    sandbox = Sandbox(limits)
    try:
        executor = CodeExecutor(sandbox, limits, 1 << 30, ArgumentValidator())
        code = (
            f"const queries = {json.dumps(list(queries))};\n"
            "const out = [];\n"
            "for (const query of queries) {\n"
            f"  out.push(await codemode.search({{ query, limit: {limit} }}));\n"
            "}\n"
            "return out;"
        )
        result, error = await executor.run(code, view, NoUpstream(), Caller("bench"))
    finally:
        sandbox.close()
    if error is not None:
        raise RuntimeError(f"sandbox run failed: {error}")
    answers = (result.structured_content or {}).get("result")
    if not isinstance(answers, list) or len(answers) != len(queries):
        raise RuntimeError(f"unexpected sandbox result: {str(result.content)[:300]}")
    return [str(a) for a in answers]


@dataclass(frozen=True)
class SandboxCheck:
    score: Score
    same_ranking: int
    tasks: int


def sandbox_check(view: PortalView, tasks: Sequence[Task], limit: int) -> SandboxCheck:
    answers = anyio.run(sandbox_search, view, [t.task for t in tasks], limit)
    rankings = [declared_names(a, view) for a in answers]
    same = sum(
        1
        for task, ranking in zip(tasks, rankings, strict=True)
        if ranking == [m.tool.name for m in view.search(task.task, limit)]
    )
    result = Score(f"`codemode.search` in the sandbox (top {limit})")
    result.ranks = [rank_of(r, t.accepted) for r, t in zip(rankings, tasks, strict=True)]
    return SandboxCheck(result, same, len(tasks))


# -- report -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HalfRow:
    half: str
    """`dev`, `test` or `all`."""
    query: Score
    baseline: Score


@dataclass(frozen=True)
class Speed:
    tools: int
    build_ms: float
    """Fastest of the index builds (the machine is shared: the minimum is the code's cost)."""
    query_ms_median: float
    query_ms_p95: float
    query_ms_max: float
    """Over the requests, each request's fastest of the timed passes."""
    load: str
    """The machine's load average when measured, for reading the figures."""


@dataclass(frozen=True)
class Report:
    rows: list[tuple[int, Score]]
    """(tools searched, score): query and baseline on the real catalog, then on the big one."""
    halves: list[HalfRow]
    """Query and baseline on the big catalog, per half of the labelled set and for all of it."""
    sandbox: SandboxCheck
    dev_misses: list[tuple[Task, int | None, list[str]]]
    test_misses: int
    per_server: list[tuple[str, int, float]]
    answer_tokens: tuple[float, float]
    speed: Speed


def answer_tokens(view: PortalView, tasks: Sequence[Task]) -> tuple[float, float]:
    """Mean tokens of a `query` answer and of a `codemode.search` answer (default limit)."""
    query, search = [], []
    for task in tasks:
        matches = view.search(task.task, DEFAULT_SEARCH_LIMIT)
        query.append(count_tokens(view.describe_text(matches)))
        search.append(count_tokens(view.declarations([m.tool for m in matches])))
    return sum(query) / len(query), sum(search) / len(search)


def speed(view: PortalView, tasks: Sequence[Task], rounds: int = TIMING_ROUNDS) -> Speed:
    """Index build and per-query time of the ranker alone (engine.search), wall clock."""
    builds = []
    for _ in range(rounds):
        start = time.perf_counter()
        index = ToolIndex(view.tools)
        builds.append((time.perf_counter() - start) * 1000)
    best = [math.inf] * len(tasks)
    for _ in range(rounds):
        for i, task in enumerate(tasks):
            start = time.perf_counter()
            index.search(task.task, DEFAULT_SEARCH_LIMIT)
            best[i] = min(best[i], (time.perf_counter() - start) * 1000)
    best.sort()
    return Speed(
        tools=len(view.tools),
        build_ms=min(builds),
        query_ms_median=statistics.median(best),
        query_ms_p95=best[int(0.95 * (len(best) - 1))],
        query_ms_max=best[-1],
        load=" ".join(f"{x:.1f}" for x in os.getloadavg()),
    )


def half_score(result: Score, tasks: Sequence[Task], half: str) -> Score:
    ranks = [r for r, t in zip(result.ranks, tasks, strict=True) if half in ("all", t.half)]
    return Score(result.name, ranks)


def measure(tasks: Sequence[Task], distractors: int = DISTRACTORS) -> Report:
    real = real_catalog()
    small = portal_view(real)
    big = portal_view(merged(real, synthetic_catalog(distractors)))
    check_tasks(tasks, small)
    q_small, _ = score(QUERY, query_ranker(small), tasks)
    s_small, _ = score(BASELINE, substring_ranker(small), tasks)
    q_big, big_rankings = score(QUERY, query_ranker(big), tasks)
    s_big, _ = score(BASELINE, substring_ranker(big), tasks)
    n_small, n_big = len(small.tools), len(big.tools)
    rows = [(n_small, q_small), (n_small, s_small), (n_big, q_big), (n_big, s_big)]
    misses = [
        (task, rank, ranking[:3])
        for task, rank, ranking in zip(tasks, q_big.ranks, big_rankings, strict=True)
        if rank is None or rank > 3
    ]
    return Report(
        rows=rows,
        halves=[
            HalfRow(half, half_score(q_big, tasks, half), half_score(s_big, tasks, half))
            for half in (*HALVES, "all")
        ],
        sandbox=sandbox_check(big, tasks, SANDBOX_LIMIT),
        dev_misses=[m for m in misses if m[0].half == "dev"],
        test_misses=sum(1 for m in misses if m[0].half == "test"),
        per_server=_per_server(tasks, q_big),
        answer_tokens=answer_tokens(big, tasks),
        speed=speed(big, tasks),
    )


def _per_server(tasks: Sequence[Task], result: Score) -> list[tuple[str, int, float]]:
    groups: dict[str, list[int | None]] = {}
    for task, rank in zip(tasks, result.ranks, strict=True):
        groups.setdefault(task.server, []).append(rank)
    return [
        (server, len(ranks), sum(1 for r in ranks if r is not None and r <= 3) / len(ranks))
        for server, ranks in groups.items()
    ]


def _halves_table(report: Report) -> list[str]:
    n_big = report.rows[2][0]
    out = [
        f"By half of the labelled set, {n_big:,} tools. The ranker was tuned looking at dev "
        "misses only; **test is the held-out figure**.",
        "",
        "| half | requests | recall@1 | recall@3 | MRR | baseline recall@3 "
        f"| target recall@3 >= {TARGET_RECALL_AT_3} | target recall@1 >= {TARGET_RECALL_AT_1} |",
        "|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in report.halves:
        q, b = row.query, row.baseline
        out.append(
            f"| {row.half} | {len(q.ranks)} | {q.recall(1):.3f} | {q.recall(3):.3f} "
            f"| {q.mrr:.3f} | {b.recall(3):.3f} | {met(q.recall(3) >= TARGET_RECALL_AT_3)} "
            f"| {met(q.recall(1) >= TARGET_RECALL_AT_1)} |"
        )
    return out


def _speed_table(sp: Speed) -> list[str]:
    return [
        f"Speed of the ranker (engine.search) over {sp.tools:,} tools, wall clock on a shared "
        f"machine (load average {sp.load}): the fastest of {TIMING_ROUNDS} index builds, and "
        f"per request the fastest of {TIMING_ROUNDS} searches (top {DEFAULT_SEARCH_LIMIT}):",
        "",
        "| measure | ms | target | met |",
        "|---|---:|---|---|",
        f"| build the index | {sp.build_ms:.1f} | < {TARGET_BUILD_MS:.0f} ms "
        f"| {met(sp.build_ms < TARGET_BUILD_MS)} |",
        f"| one query, median | {sp.query_ms_median:.2f} | < {TARGET_QUERY_MS:.0f} ms "
        f"| {met(sp.query_ms_median < TARGET_QUERY_MS)} |",
        f"| one query, p95 | {sp.query_ms_p95:.2f} | | |",
        f"| one query, slowest | {sp.query_ms_max:.2f} | | |",
    ]


def render(report: Report, tasks: Sequence[Task], external: Sequence[str] = ()) -> str:
    """The report; `external` is the rendered section for sets (2) and (3)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    tools = len({t.tool for t in tasks})
    out = [
        "# Tool-search quality",
        "",
        f"{stamp}; {machine()}. Written by `python -m benchmarks.search`.",
        "",
        f"{len(tasks)} labelled requests (`benchmarks/tasks.json`) for all {tools} tools of the 6",
        "recorded real servers, phrased as people ask. Searched among the real tools alone, and",
        f"among the real tools plus {DISTRACTORS:,} synthetic distractors. Rank of the first",
        "correct tool in up to 50 results; MRR counts a tool not in the results as 0.",
        "",
        *_halves_table(report),
        "",
        "All requests:",
        "",
        "| ranker | tools searched | recall@1 | recall@3 | recall@5 | recall@10 | MRR "
        "| target recall@3 >= 0.9 |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    sandbox = report.sandbox
    for n, s in [*report.rows, (report.rows[2][0], sandbox.score)]:
        target = "(baseline)" if s.name == BASELINE else met(s.recall(3) >= TARGET_RECALL_AT_3)
        out.append(
            f"| {s.name} | {n:,} | {s.recall(1):.3f} | {s.recall(3):.3f} | {s.recall(5):.3f} "
            f"| {s.recall(10):.3f} | {s.mrr:.3f} | {target} |"
        )
    q_tokens, s_tokens = report.answer_tokens
    out += [
        "",
        f"`codemode.search` run inside the QuickJS sandbox (through `engine.executor`) returned "
        f"the same top-{SANDBOX_LIMIT} ranking as `query` for {sandbox.same_ranking} of "
        f"{sandbox.tasks} requests (it asked for {SANDBOX_LIMIT} matches, so its MRR is MRR@"
        f"{SANDBOX_LIMIT}). `query` returns {DEFAULT_SEARCH_LIMIT} matches unless asked for more.",
        "",
        f"What a lookup costs afterwards (default {DEFAULT_SEARCH_LIMIT} matches, "
        f"{report.rows[2][0]:,} tools): a `query` answer (declarations + JSON schemas) "
        f"{q_tokens:,.0f} tokens on average; a `codemode.search` answer (declarations) "
        f"{s_tokens:,.0f} tokens.",
        "",
        *_speed_table(report.speed),
        "",
        "![recall at k](search.png)",
        "",
        f"Recall@3 of `query` by server ({report.rows[2][0]:,} tools, both halves):",
        "",
        "| server | requests | recall@3 |",
        "|---|---:|---:|",
    ]
    out += [f"| {server} | {n} | {r:.3f} |" for server, n, r in report.per_server]
    out += ["", *external]
    out += [
        f"## Misses of `query` on the dev half at {report.rows[2][0]:,} tools (correct tool "
        "not in the top 3)",
        "",
        f"The {report.test_misses} test-half misses are counted above but not listed, so that "
        "tuning cannot look at them.",
        "",
        "| request | correct tool | its rank | top 3 returned |",
        "|---|---|---:|---|",
    ]
    out += [
        f"| {t.task} | {t.tool} | {rank if rank is not None else '-'} | {', '.join(top)} |"
        for t, rank, top in report.dev_misses
    ]
    out.append("")
    return "\n".join(out)


def plot(report: Report, path: Path) -> None:
    """Recall@k per ranker and catalog size (`query` at the big size per half), the target
    as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ks = (1, 3, 5, 10)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    n_big = report.rows[2][0]
    lines = [(f"{n:,} tools", n, s) for n, s in report.rows if n != n_big or s.name == BASELINE]
    lines += [(f"{n_big:,} tools, {r.half} half", n_big, r.query) for r in report.halves[:2]]
    for label, _, s in sorted(lines, key=lambda line: (line[1], line[2].name != QUERY)):
        style = "-" if s.name == QUERY else "--"
        name = "query" if s.name == QUERY else "substring baseline"
        ax.plot(ks, [s.recall(k) for k in ks], style, marker="o", label=f"{name}, {label}")
    ax.axhline(TARGET_RECALL_AT_3, color="grey", linewidth=0.8, linestyle=":")
    ax.annotate(
        "target recall@3",
        (3, TARGET_RECALL_AT_3),
        textcoords="offset points",
        xytext=(4, 4),
        color="grey",
    )
    ax.set_xticks(ks)
    ax.set_xlabel("k (results the agent reads)")
    ax.set_ylabel("recall@k over the labelled requests")
    ax.set_ylim(0, 1)
    ax.set_title("Tool search: correct tool within the top k")
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main() -> None:
    tasks = load_tasks()
    report = measure(tasks)
    external = search_external.render(search_external.measure_if_present())
    text = render(report, tasks, external)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    plot(report, PLOT)
    print(text)


if __name__ == "__main__":
    main()
