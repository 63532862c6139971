"""What the commands print: status lines and tables, tool lists, a run's result."""

from __future__ import annotations

import json
from typing import Any, TextIO

from mcp_types import CallToolResult, TextContent

from engine import results
from engine.cli.exits import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_UNAVAILABLE,
)
from engine.status import ServerState, ServerStatus


def status_line(status: ServerStatus) -> str:
    if status.state is ServerState.ERROR and status.error_details is not None:
        return f"Error: {status.error_details.cause}"
    if status.state is ServerState.READY:
        counts = [count(status.tool_count, "tool"), count(status.prompt_count, "prompt")]
        if status.resource_count:  # most servers have none: say nothing then
            counts.append(count(status.resource_count, "resource"))
        return f"Ready ({', '.join(counts)})"
    return status.state.value


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def print_surface_table(pid: str, reports: dict[str, dict[str, Any]]) -> None:
    print(f"portal {pid}: what a client sees on each surface (tokens: cl100k_base)")
    print(f"{'surface':<20} {'tools':>6} {'tokens':>8}")
    for surface, report in reports.items():
        print(f"{surface:<20} {report['tool_count']:>6} {report['tokens']:>8,}")


def print_tool_list(report: dict[str, Any]) -> None:
    tools: list[dict[str, Any]] = report["tools"]
    width = max((len(t["name"]) for t in tools), default=4)
    for tool in tools:
        summary = (tool.get("description") or "").strip().splitlines()
        first = summary[0] if summary else ""
        print(f"{tool['name']:<{width}}  {first[:100]}")
    tokens = report["tokens"]
    print(f"{count(report['tool_count'], 'tool')}, {tokens:,} token{'' if tokens == 1 else 's'}")


def unavailable(statuses: dict[str, ServerStatus]) -> dict[str, str]:
    return {
        sid: s.error_details.cause if s.error_details else s.state.value
        for sid, s in statuses.items()
        if s.state is not ServerState.READY
    }


def print_run_result(result: CallToolResult, out: TextIO, err: TextIO) -> int:
    """Result to `out`; logs and the error to `err`. Returns the exit code."""
    text = "\n".join(b.text for b in result.content if isinstance(b, TextContent))
    payload = result.structured_content
    if payload is None:
        try:
            payload = json.loads(text)
        except ValueError:
            payload = None
    cut = results.read_cut(text) if payload is None else None
    if cut is not None:
        # Cut at the output cap: the notice, then as much of the value as fits, readably.
        print(cut.notice, file=err)
        if result.is_error or cut.is_error:
            print(f"error: {cut.value}", file=err)
            return EXIT_FAILED
        print(cut.value, file=out)
        return EXIT_OK
    if not isinstance(payload, dict) or not ({"result", "error"} & payload.keys()):
        # Not the executor's shape (a tool error's text, say): show it as is.
        print(text, file=err if result.is_error else out)
        return EXIT_FAILED if result.is_error else EXIT_OK
    for entry in payload.get("logs") or []:
        print(f"[{entry.get('level', 'log')}] {entry.get('text', '')}", file=err)
    if result.is_error or "error" in payload:
        print(f"error: {error_text(payload.get('error'))}", file=err)
        return EXIT_FAILED
    value = payload.get("result")
    print(value if isinstance(value, str) else json.dumps(value, indent=2), file=out)
    return EXIT_OK


def error_text(error: Any) -> str:
    if not isinstance(error, dict):
        return str(error)
    name = error.get("name") or error.get("kind", "error")
    message = str(error.get("message", ""))
    where = f"line {error['line']}, column {error.get('column')}" if "line" in error else ""
    if where and where not in message:  # syntax errors say where in their message already
        message = f"{message} ({where})"
    return f"{name}: {message}"


def report_status(statuses: dict[str, ServerStatus], as_json: bool) -> int:
    if as_json:
        data = {sid: s.model_dump(mode="json") for sid, s in statuses.items()}
        print(json.dumps({"servers": data}, indent=2))
    else:
        print_status_table(statuses)
    errors = [sid for sid, s in statuses.items() if s.state is not ServerState.READY]
    return EXIT_UNAVAILABLE if errors else EXIT_OK


def print_status_table(statuses: dict[str, ServerStatus]) -> None:
    width = max((len(sid) for sid in statuses), default=6)
    print(f"{'server':<{width}}  {'state':<7} {'tools':>5} {'prompts':>7}  cause")
    for sid, s in statuses.items():
        cause = s.error_details.cause if s.error_details else ""
        print(f"{sid:<{width}}  {s.state.value:<7} {s.tool_count:>5} {s.prompt_count:>7}  {cause}")
