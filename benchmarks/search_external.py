"""Tool search on an external labelled set: LiveMCPBench's catalog and tasks.

    python -m benchmarks.search      # writes this section into benchmarks/results/search.md

The data lives outside the repository, in `../shared/bench/livemcp/` from the project root
(`CODEMODE_LIVEMCP` names another place): 70 real MCP servers' `tools/list` (527 tools) and 50
labelled multi-step requests, derived from the public LiveMCPBench benchmark (its README there
gives the provenance, the labelling and the licence). Nobody on this project wrote or looked at
its requests while building the ranker, and the ranker is never tuned on it: it is reported as
found, as set (2); set (3) is the same with the 1,000 synthetic distractors of
`benchmarks.catalogs` added.

A request is a hit at k when any of its labelled tools is in the top k (one annotator's
solution; other tools might also do). Its requests are long (a paragraph naming several steps),
so this set also measures the ranker's speed on long input.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from mcp_types import Tool

from benchmarks.catalogs import ROOT, Catalog, merged, portal_view, synthetic_catalog
from benchmarks.ranking import (
    BASELINE,
    QUERY,
    RECALL_AT,
    Ranker,
    Score,
    met,
    query_ranker,
    rank_of,
    substring_ranker,
)
from engine.view import DEFAULT_SEARCH_LIMIT, PortalView

LIVEMCP = Path(os.environ.get("CODEMODE_LIVEMCP", ROOT.parent / "shared" / "bench" / "livemcp"))
DISTRACTORS = 1000
TARGET_RECALL_AT_3 = 0.7
TARGET_RECALL_AT_10 = 0.85
SOURCE_BASELINE = "BM25 over tool name + description (the set's README, all 95 source tasks)"
SOURCE_BASELINE_RECALL = {1: 0.253, 3: 0.453, 5: 0.558, 10: 0.653}
TIMING_ROUNDS = 3


class ExternalSetError(ValueError):
    """The external set is malformed or labels a tool its catalog does not have."""


@dataclass(frozen=True)
class ExternalTask:
    id: str
    question: str
    relevant: tuple[tuple[str, str], ...]
    """(server id, upstream tool name) pairs; any of them answers the request."""


def load_catalog(root: Path = LIVEMCP) -> Catalog:
    entries = json.loads((root / "catalog.json").read_text(encoding="utf-8"))
    return {e["server"]: [Tool.model_validate(t) for t in e["tools"]] for e in entries}


def load_tasks(root: Path = LIVEMCP) -> list[ExternalTask]:
    entries = json.loads((root / "tasks.json").read_text(encoding="utf-8"))
    tasks = [
        ExternalTask(e["id"], e["question"], tuple((s, n) for s, n in e["relevant"]))
        for e in entries
    ]
    unlabelled = [t.id for t in tasks if not t.relevant]
    if unlabelled:
        raise ExternalSetError(f"tasks without a relevant tool: {unlabelled[:3]}")
    return tasks


def accepted_names(task: ExternalTask, view: PortalView) -> frozenset[str]:
    """The client-visible names of a task's relevant tools in this view."""
    by_upstream = {(t.server_id, t.upstream_name): t.name for t in view.tools}
    missing = [f"{s}/{n}" for s, n in task.relevant if (s, n) not in by_upstream]
    if missing:
        raise ExternalSetError(f"task {task.id} names tools not in the catalog: {missing}")
    return frozenset(by_upstream[pair] for pair in task.relevant)


def with_distractors(catalog: Mapping[str, Sequence[Tool]], count: int) -> Catalog:
    """The catalog plus `count` synthetic tools; a synthetic server whose id the catalog
    already uses is renamed `<id>-synthetic`, so both keep their tools."""
    synthetic = {
        (f"{server}-synthetic" if server in catalog else server): tools
        for server, tools in synthetic_catalog(count).items()
    }
    return merged(catalog, synthetic)


@dataclass(frozen=True)
class SetResult:
    label: str
    tools: int
    query: Score
    baseline: Score
    query_ms_median: float
    """Over the requests, each request's fastest of the timed searches (default limit)."""


@dataclass(frozen=True)
class ExternalReport:
    tasks: int
    relevant_per_task: float
    sets: list[SetResult]


def _score(name: str, ranker: Ranker, tasks: Sequence[ExternalTask], view: PortalView) -> Score:
    return Score(name, [rank_of(ranker(t.question), accepted_names(t, view)) for t in tasks])


def _query_ms(view: PortalView, tasks: Sequence[ExternalTask]) -> float:
    best = [min(_timed(view, t.question) for _ in range(TIMING_ROUNDS)) for t in tasks]
    return statistics.median(best)


def _timed(view: PortalView, question: str) -> float:
    start = time.perf_counter()
    view.search(question, DEFAULT_SEARCH_LIMIT)
    return (time.perf_counter() - start) * 1000


def measure_set(label: str, catalog: Catalog, tasks: Sequence[ExternalTask]) -> SetResult:
    view = portal_view(catalog)
    return SetResult(
        label=label,
        tools=len(view.tools),
        query=_score(QUERY, query_ranker(view), tasks, view),
        baseline=_score(BASELINE, substring_ranker(view), tasks, view),
        query_ms_median=_query_ms(view, tasks),
    )


def measure(root: Path = LIVEMCP, distractors: int = DISTRACTORS) -> ExternalReport:
    catalog, tasks = load_catalog(root), load_tasks(root)
    crowded = with_distractors(catalog, distractors)
    return ExternalReport(
        tasks=len(tasks),
        relevant_per_task=sum(len(t.relevant) for t in tasks) / len(tasks),
        sets=[
            measure_set("(2) LiveMCPBench catalog", catalog, tasks),
            measure_set(f"(3) same + {distractors:,} synthetic", crowded, tasks),
        ],
    )


def render(report: ExternalReport | None, root: Path = LIVEMCP) -> list[str]:
    out = ["## External set: LiveMCPBench (never tuned on)", ""]
    if report is None:
        return [*out, f"Not measured: the set is not at `{root}` (see `CODEMODE_LIVEMCP`).", ""]
    out += [
        f"{report.tasks} labelled requests (long, multi-step; {report.relevant_per_task:.1f} "
        "labelled tools each, a hit at k when any is in the top k) over the catalog of 70 real "
        "MCP servers, from the public LiveMCPBench benchmark (`../shared/bench/livemcp/`, whose "
        "README gives provenance and licence). Reported as found: the ranker was never tuned "
        f"on it. Targets for set (2): recall@3 >= {TARGET_RECALL_AT_3}, recall@10 >= "
        f"{TARGET_RECALL_AT_10}.",
        "",
        "| set | ranker | tools | "
        + " | ".join(f"recall@{k}" for k in RECALL_AT)
        + " | MRR | one query, median ms | targets met |",
        "|---|---|---:|" + "---:|" * len(RECALL_AT) + "---:|---:|---|",
    ]
    for i, result in enumerate(report.sets):
        for score in (result.query, result.baseline):
            out.append(_row(result, score, targeted=i == 0))
    source = " | ".join(f"{SOURCE_BASELINE_RECALL[k]:.3f}" for k in RECALL_AT)
    out += [
        f"| (source) | {SOURCE_BASELINE} | 527 | {source} | 0.387 | | (reference) |",
        "",
    ]
    return out


def _row(result: SetResult, score: Score, targeted: bool) -> str:
    recalls = " | ".join(f"{score.recall(k):.3f}" for k in RECALL_AT)
    is_query = score.name == QUERY
    ms = f"{result.query_ms_median:.2f}" if is_query else ""
    if not is_query:
        target = "(baseline)"
    elif targeted:
        ok = score.recall(3) >= TARGET_RECALL_AT_3 and score.recall(10) >= TARGET_RECALL_AT_10
        target = met(ok)
    else:
        target = "(no target)"
    return (
        f"| {result.label} | {score.name} | {result.tools:,} | {recalls} | {score.mrr:.3f} "
        f"| {ms} | {target} |"
    )


def measure_if_present(root: Path = LIVEMCP) -> ExternalReport | None:
    return measure(root) if (root / "catalog.json").is_file() else None
